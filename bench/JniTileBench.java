// Tiles/s of Predictor.predictClasses through JNI on direct buffers: the
// Java side of the JNI-overhead row of bench/RESULTS.md. The Rust side is
// `dlclassifier bench-infer` on the same model, tiles (its --save output),
// batch, threads and step counts; scripts/bench.sh alternates the two.
// Run as a single-file program: java -cp dlclassifier.jar bench/JniTileBench.java ...

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;
import org.dlclassifier.Predictor;
import org.dlclassifier.PredictorOptions;
import org.dlclassifier.TileLayout;

public class JniTileBench {
    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        Path model = Paths.get(a.get("model"));
        byte[] bytes = Files.readAllBytes(Paths.get(a.get("saved"), "tiles.u8"));
        int channels = Integer.parseInt(a.get("channels"));
        int tile = Integer.parseInt(a.getOrDefault("tile", "256"));
        int batch = Integer.parseInt(a.getOrDefault("batch", "4"));
        int threads = Integer.parseInt(a.getOrDefault("threads", "2"));
        int warmup = Integer.parseInt(a.getOrDefault("warmup", "2"));
        int steps = Integer.parseInt(a.getOrDefault("steps", "10"));

        TileLayout layout = TileLayout.of(batch, channels, tile, tile, TileLayout.Order.HWC, TileLayout.Dtype.U8);
        ByteBuffer tiles = ByteBuffer.allocateDirect(bytes.length).order(ByteOrder.nativeOrder());
        tiles.put(bytes).flip();
        ByteBuffer classMap = ByteBuffer.allocateDirect((int) layout.classMapBytes());
        PredictorOptions options = PredictorOptions.builder()
                .backend(PredictorOptions.Backend.ONNX).threads(threads).build();
        try (Predictor predictor = Predictor.open(model, options)) {
            for (int i = 0; i < warmup; i++) {
                predictor.predictClasses(tiles, layout, classMap);
            }
            long start = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                predictor.predictClasses(tiles, layout, classMap);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("{\"tiles_per_s\": %.4f, \"java\": \"%s\"}%n",
                    steps * batch / seconds, System.getProperty("java.version"));
        }
    }
}
