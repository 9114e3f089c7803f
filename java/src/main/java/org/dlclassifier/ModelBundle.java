package org.dlclassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonFields;
import org.dlclassifier.internal.JsonMapper;
import org.dlclassifier.internal.Native;

/**
 * Zip bundles of model folders with a manifest of per-file SHA-256 checksums. Reading
 * refuses, with the reason in the {@link IOException}, a bundle that fails a checksum, misses
 * or adds a file, holds an absolute or {@code ..} path or a symbolic link, or unpacks to more
 * than 2 GiB.
 */
public final class ModelBundle {
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
        Objects.requireNonNull(models, "models");
        Objects.requireNonNull(zip, "zip");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(description, "description");
        List<Object> paths = new ArrayList<>();
        for (Path model : models) {
            paths.add(Objects.requireNonNull(model, "models must not contain null").toString());
        }
        String info = Json.write(JsonFields.objectOf("name", name, "version", version, "description", description));
        return manifest(Native.bundlePack(Json.write(paths), zip.toString(), info));
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
        Objects.requireNonNull(zip, "zip");
        return manifest(Native.bundleVerifyJson(zip.toString(), maxBytes));
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
        Objects.requireNonNull(zip, "zip");
        Objects.requireNonNull(directory, "directory");
        return manifest(Native.bundleUnpack(zip.toString(), directory.toString(), maxBytes));
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
        Objects.requireNonNull(zip, "zip");
        return Path.of(Native.bundleOpen(zip.toString(), modelName));
    }

    private static Manifest manifest(String json) {
        return JsonMapper.read(Manifest.class, Json.parse(json));
    }

    /** A bundle's {@code manifest.json}. */
    public static final class Manifest {
        private String name;
        private String version;
        private String description;
        private String created;
        private List<Entry> models;

        /** Filled from the engine's JSON by {@link JsonMapper}. */
        private Manifest() {
        }

        /** One model of the manifest; its files and checksums stay with the engine. */
        private static final class Entry {
            private String name;

            private Entry() {
            }
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
            return models.stream().map(m -> m.name).collect(Collectors.toUnmodifiableList());
        }
    }
}
