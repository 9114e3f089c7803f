// A live overlay as QuPath's PixelClassifier overlay builds one: the viewer
// asks for tiles of what it shows, each is classified into a buffer (with
// context from around it, so neighbours meet without seams), painted in the
// class colours, cached, and composited over the image.
//   groovy -cp dlclassifier.jar live_overlay.groovy MODEL_DIR IMAGE_FILE OUT_PNG
import java.awt.AlphaComposite
import java.awt.image.BufferedImage
import java.nio.FloatBuffer
import java.nio.file.Paths
import javax.imageio.ImageIO
import org.dlclassifier.*

BufferedImage image = ImageIO.read(new File(args[1]))
def raster = image.raster
def reader = new RegionReader() {
    int width() { image.width }
    int height() { image.height }
    int channels() { raster.numBands }
    void read(int x, int y, int w, int h, FloatBuffer dest) {
        float[] band = new float[w * h]
        for (int c = 0; c < raster.numBands; c++) {
            dest.put(raster.getSamples(x, y, w, h, c, band))
        }
    }
}

int tile = 128
def predictor = Predictor.open(Paths.get(args[0]))
def options = ApplyOptions.builder().tileSize(256).overlap(64).build()
// Class colours at half opacity; background left clear, as QuPath shows it.
int[] argb = predictor.info().classes().collect { c ->
    c.name().equalsIgnoreCase('background') ? 0 : (0x80 << 24) | c.rgb()
} as int[]
Map<List<Integer>, BufferedImage> cache = [:]
def overlayTile = { int x, int y ->
    cache.computeIfAbsent([x, y]) {
        int w = Math.min(tile, image.width - x), h = Math.min(tile, image.height - y)
        byte[] classes = predictor.classifyRegion(reader, x, y, w, h, options)
        def painted = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB)
        painted.setRGB(0, 0, w, h, classes.collect { argb[it & 0xff] } as int[], 0, w)
        painted
    }
}

// The viewer shows a 320x320 field of view at (96, 96): the tiles it touches, composited.
def view = [x: 96, y: 96, w: 320, h: 320]
// The image under it stretched to its range in view, as a viewer shows 16-bit data.
float[] values = raster.getSamples(view.x, view.y, view.w, view.h, 0, (float[]) null)
float lo = values.toList().min(), hi = values.toList().max()
def shown = new BufferedImage(view.w, view.h, BufferedImage.TYPE_INT_RGB)
shown.setRGB(0, 0, view.w, view.h, values.collect { v ->
    int grey = Math.round(255 * (v - lo) / Math.max(hi - lo, 1f))
    (grey << 16) | (grey << 8) | grey
} as int[], 0, view.w)
def g = shown.createGraphics()
g.composite = AlphaComposite.SrcOver
for (int ty = view.y.intdiv(tile) * tile; ty < view.y + view.h; ty += tile) {
    for (int tx = view.x.intdiv(tile) * tile; tx < view.x + view.w; tx += tile) {
        g.drawImage(overlayTile(tx, ty), tx - view.x, ty - view.y, null)
    }
}
g.dispose()
ImageIO.write(shown, 'png', new File(args[2]))
int tiles = cache.size()
// Panning back over the same field needs no new predictions.
overlayTile(128, 128)
assert cache.size() == tiles

// The tiles meet without seams: together they are one prediction of the whole field.
byte[] whole = predictor.classifyRegion(reader, 128, 128, 256, 256, options)
def stitched = new int[256 * 256]
[[128, 128], [256, 128], [128, 256], [256, 256]].each { xy ->
    overlayTile(xy[0], xy[1]).getRGB(0, 0, tile, tile, stitched, (xy[1] - 128) * 256 + (xy[0] - 128), 256)
}
assert (0..<whole.length).every { stitched[it] == argb[whole[it] & 0xff] }
predictor.close()
println "live overlay: ${tiles} tiles of ${tile} px composited into ${args[2]}"
