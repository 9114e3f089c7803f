package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Zip bundles of model folders with a manifest of per-file SHA-256 checksums. Reading
 * refuses, with the reason in the {@link IOException}, a bundle that fails a checksum, misses
 * or adds a file, holds an absolute or {@code ..} path or a symbolic link, or unpacks to more
 * than 2 GiB.
 */
public final class ModelBundle {
    static {
        NativeLibrary.load();
    }

    private ModelBundle() {
    }

    /**
     * Packs model folders into a new zip, written atomically.
     *
     * @param models model folders; their folder names become the model names and must differ
     * @param zip the bundle to write
     * @param name the bundle's name
     * @param version the bundle's version
     * @param description what the bundle holds
     * @return the manifest written
     * @throws IOException if a folder is not a readable model or the zip cannot be written
     */
    public static Manifest pack(List<Path> models, Path zip, String name, String version, String description)
            throws IOException {
        List<Object> paths = new ArrayList<>();
        for (Path model : models) {
            paths.add(model.toString());
        }
        String info = Json.write(JsonFields.objectOf("name", name, "version", version, "description", description));
        return new Manifest(Json.parseObject(nativePack(Json.write(paths), zip.toString(), info)));
    }

    /**
     * Reads a whole bundle and checks every file against its manifest; writes nothing.
     *
     * @param zip the bundle
     * @return its manifest
     * @throws IOException with the reason if the bundle is refused
     */
    public static Manifest verify(Path zip) throws IOException {
        return verify(zip, 0);
    }

    /**
     * As {@link #verify(Path)}, with a limit on the bundle's total uncompressed size.
     *
     * @param zip the bundle
     * @param maxBytes the largest total size accepted; 0 keeps the default of 2 GiB
     * @return its manifest
     * @throws IOException with the reason if the bundle is refused
     */
    public static Manifest verify(Path zip, long maxBytes) throws IOException {
        return new Manifest(Json.parseObject(nativeVerify(zip.toString(), maxBytes)));
    }

    /**
     * Verifies a bundle and unpacks it into a new folder: one folder per model plus the manifest.
     *
     * @param zip the bundle
     * @param directory the folder to create; must not exist
     * @return the bundle's manifest
     * @throws IOException with the reason if the bundle is refused or the folder cannot be written
     */
    public static Manifest unpack(Path zip, Path directory) throws IOException {
        return unpack(zip, directory, 0);
    }

    /**
     * As {@link #unpack(Path, Path)}, with a limit on the bundle's total uncompressed size.
     *
     * @param zip the bundle
     * @param directory the folder to create; must not exist
     * @param maxBytes the largest total size accepted; 0 keeps the default of 2 GiB
     * @return the bundle's manifest
     * @throws IOException with the reason if the bundle is refused or the folder cannot be written
     */
    public static Manifest unpack(Path zip, Path directory, long maxBytes) throws IOException {
        return new Manifest(Json.parseObject(nativeUnpack(zip.toString(), directory.toString(), maxBytes)));
    }

    /**
     * A model of a bundle as a folder for {@link Predictor}: unpacked once into the cache
     * ({@code DLC_CACHE}, else {@code ~/.cache/dlclassifier}) under the bundle's SHA-256, and
     * reused while its files match their checksums.
     *
     * @param zip the bundle
     * @param modelName the model to open, or null for the only model of the bundle
     * @return the model folder
     * @throws IOException with the reason if the bundle is refused
     * @throws IllegalArgumentException if the model is not in the bundle, or none is named
     *         for a bundle of several
     */
    public static Path open(Path zip, String modelName) throws IOException {
        return Path.of(nativeOpen(zip.toString(), modelName == null ? "" : modelName));
    }

    /** A bundle's {@code manifest.json}. */
    public static final class Manifest {
        private final String name;
        private final String version;
        private final String description;
        private final String created;
        private final List<String> models;

        Manifest(Map<String, Object> json) {
            name = JsonFields.string(json, "name");
            version = JsonFields.string(json, "version");
            description = JsonFields.string(json, "description");
            created = JsonFields.string(json, "created");
            models = Collections.unmodifiableList(
                    JsonFields.objects(JsonFields.list(json, "models"), m -> JsonFields.string(m, "name")));
        }

        /** @return the bundle's name */
        public String name() {
            return name;
        }

        /** @return the bundle's version */
        public String version() {
            return version;
        }

        /** @return what the bundle holds */
        public String description() {
            return description;
        }

        /** @return the RFC 3339 time the bundle was packed */
        public String created() {
            return created;
        }

        /** @return the names of the bundled models, in packing order */
        public List<String> models() {
            return models;
        }
    }

    private static native String nativePack(String modelsJson, String zip, String infoJson) throws IOException;

    private static native String nativeVerify(String zip, long maxBytes) throws IOException;

    private static native String nativeUnpack(String zip, String directory, long maxBytes) throws IOException;

    private static native String nativeOpen(String zip, String modelName) throws IOException;
}
