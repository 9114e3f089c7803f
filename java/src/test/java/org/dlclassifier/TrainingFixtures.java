package org.dlclassifier;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** The bundled real training data and small, fast CPU settings for tests. */
final class TrainingFixtures {
    private TrainingFixtures() {
    }

    /** {@code data/<name>} of the repository, found from the working directory up. */
    static Path data(String name) {
        for (Path dir = Paths.get("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("data").resolve(name);
            if (Files.isRegularFile(candidate.resolve("config.json"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("data/" + name + " not found above " + Paths.get("").toAbsolutePath());
    }

    /** 256x256 DAPI patches, two classes: 3 for training, 1 for validation. */
    static Path nuclei() {
        return data("nuclei-dsb2018");
    }

    /** Two quick epochs on the CPU: each takes well under a second. */
    static TrainingConfig.Builder quick() {
        return TrainingConfig.builder()
                .encoder("resnet18")
                .tileSize(64)
                .batchSize(2)
                .samplesPerEpoch(4)
                .epochs(2)
                .threads(2)
                .device("cpu")
                .noEarlyStopping();
    }
}
