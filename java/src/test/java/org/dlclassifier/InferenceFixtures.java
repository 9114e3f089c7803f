package org.dlclassifier;

import java.awt.image.Raster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * A real model for the inference tests, trained once per JVM on the bundled
 * nuclei data (one quick CPU epoch, a few seconds), and tile data for it.
 */
final class InferenceFixtures {
    private static Path model;
    private static Raster raster;

    private InferenceFixtures() {
    }

    /** The trained nuclei model folder: 1 channel (DAPI), 2 classes, tile size 64. */
    static synchronized Path nucleiModel() throws IOException {
        if (model == null) {
            Path root = Files.createTempDirectory("dlc-inference-test");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(root)));
            Path dir = root.resolve("nuclei");
            Trainer.train(TrainingFixtures.nuclei(), dir, TrainingFixtures.quick().epochs(1).build(), null);
            model = dir;
        }
        return model;
    }

    /** The held-out 512 x 512 16-bit nuclei image. */
    static Path nucleiImage() {
        return TrainingFixtures.nuclei().resolve("full").resolve("image.tif");
    }

    /** The nuclei image's pixels, read by the JDK: what a Java host would hand the engine. */
    static synchronized Raster nucleiRaster() {
        if (raster == null) {
            try {
                raster = ImageIO.read(nucleiImage().toFile()).getRaster();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return raster;
    }

    /** The image's ground-truth class mask. */
    static Path nucleiMask() {
        return TrainingFixtures.nuclei().resolve("full").resolve("mask.png");
    }

    /** Reproducible 8-bit intensities. */
    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static ByteBuffer direct(int bytes) {
        return ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
    }

    static void delete(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
