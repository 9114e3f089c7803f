// Tile-by-tile prediction on direct buffers, as a QuPath pixel classifier
// does for each requested tile: no copies, one predictor shared by threads.
//
//   groovy -cp dlclassifier.jar predict_tiles.groovy MODEL_DIR IMAGE_FILE

import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Paths
import java.util.concurrent.Executors
import javax.imageio.ImageIO
import org.dlclassifier.*

if (args.length != 2) { System.err.println('usage: predict_tiles.groovy MODEL_DIR IMAGE_FILE'); System.exit(2) }
def image = ImageIO.read(Paths.get(args[1]).toFile())
int tile = 128

Predictor predictor = Predictor.open(Paths.get(args[0]))
try {
    ModelInfo info = predictor.info()
    println "${info.name()}: ${info.inChannels()} channel(s) in, classes ${info.classes()*.name()}"
    assert image.raster.numBands == info.inChannels()

    // One float32 CHW tile per thread, each from a different corner of the image.
    def layout = TileLayout.of(1, info.inChannels(), tile, tile, TileLayout.Order.CHW, TileLayout.Dtype.F32)
    def pool = Executors.newFixedThreadPool(4)
    def corners = [[0, 0], [image.width - tile, 0], [0, image.height - tile], [image.width - tile, image.height - tile]]
    def futures = corners.collect { xy ->
        pool.submit({
            def input = ByteBuffer.allocateDirect((int) layout.inputBytes()).order(ByteOrder.nativeOrder())
            float[] band = new float[tile * tile]
            for (int c = 0; c < info.inChannels(); c++) {
                input.asFloatBuffer().position(c * tile * tile).put(image.raster.getSamples(xy[0], xy[1], tile, tile, c, band))
            }
            def probabilities = ByteBuffer.allocateDirect((int) layout.probabilityBytes(info.numClasses())).order(ByteOrder.nativeOrder())
            def classes = ByteBuffer.allocateDirect((int) layout.classMapBytes())
            predictor.predict(input, layout, probabilities, classes)
            def p = probabilities.asFloatBuffer()
            int pixels = tile * tile
            long[] counts = new long[info.numClasses()]
            for (int i = 0; i < pixels; i++) {
                float sum = 0
                for (int k = 0; k < info.numClasses(); k++) sum += p.get(k * pixels + i)
                assert Math.abs(sum - 1f) < 1e-4 : "probabilities at pixel ${i} sum to ${sum}"
                counts[classes.get(i)]++
            }
            [xy, counts]
        } as java.util.concurrent.Callable)
    }
    futures.each { f ->
        def (xy, counts) = f.get()
        println "  tile at ${xy}: pixels per class ${counts as List}"
    }
    pool.shutdown()
} finally {
    predictor.close()
}
