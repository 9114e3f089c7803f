package org.dlclassifier.internal;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLConnection;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

/**
 * Loads {@code dlclassifier_native} and the libtorch it links, so that a plain
 * {@code java -cp dlclassifier.jar} works without {@code LD_LIBRARY_PATH}.
 * Every public class calls {@link #load()} from its static initializer.
 *
 * <p>The library is {@code dlclassifier.native.path} / {@code DLC_NATIVE_LIBRARY}
 * when set, else the copy the jar carries at {@code native/<os>-<arch>/},
 * extracted once into {@code <cache>/native/<version>-<sha256 prefix>/} (cache:
 * {@code DLC_CACHE}, else {@code ~/.cache/dlclassifier}) and reused by every
 * later JVM. libtorch is loaded first from the first folder holding it (see
 * {@link #libtorchCandidates}): the dynamic linker then resolves the library's
 * libtorch dependencies by name against the copies already loaded.
 */
final class NativeLibrary {
    static final String PATH_PROPERTY = "dlclassifier.native.path";
    static final String PATH_ENV = "DLC_NATIVE_LIBRARY";
    static final String LIBTORCH_PROPERTY = "dlclassifier.libtorch";
    static final String LIBTORCH_ENV = "DLC_LIBTORCH";

    /** Written by the build (gradle/rust.gradle). */
    static final String VERSIONS = "/org/dlclassifier/dlclassifier.properties";

    private static final String NAME = "dlclassifier_native";
    private static final String INSTALL_HINT =
            "install it with `make deps` (or scripts/deps.sh libtorch) in the dlclassifier sources, or set "
                    + LIBTORCH_ENV + " (or -D" + LIBTORCH_PROPERTY + ") to a libtorch folder";

    private static Path library;
    private static Path libtorch;

    private NativeLibrary() {
    }

    /**
     * Loads the library once per class loader; later calls return at once.
     * A failed attempt is retried on the next call, so fixing a setting helps.
     *
     * @throws UnsatisfiedLinkError naming every place looked at and how to fix it
     */
    static synchronized void load() {
        if (library != null) {
            return;
        }
        Properties versions = versions();
        String version = versions.getProperty("version");
        Path override = override();
        Path torch = findLibtorch(override, versions.getProperty("libtorch.version"));
        List<String> skipped = preloadLibtorch(torch);
        Path path = override != null ? override : extract(version);
        try {
            System.load(path.toString());
        } catch (UnsatisfiedLinkError e) {
            String notes = skipped.isEmpty() ? "" : " (not loaded from libtorch: " + String.join("; ", skipped) + ")";
            throw linkError("cannot load " + path + " with libtorch from " + torch + ": " + e.getMessage() + notes, e);
        }
        // A library from another build fails here, not on a later call with a different ABI.
        String nativeVersion;
        try {
            nativeVersion = Native.version();
        } catch (UnsatisfiedLinkError e) {
            throw linkError(path + " is not a dlclassifier library: " + e.getMessage(), e);
        }
        if (!version.equals(nativeVersion)) {
            throw new UnsatisfiedLinkError(path + " is dlclassifier " + nativeVersion + " but the jar is " + version);
        }
        library = path;
        libtorch = torch;
    }

    /** The loaded library file, or {@code null} before a successful {@link #load()}. */
    static synchronized Path path() {
        return library;
    }

    /** The folder libtorch was loaded from, or {@code null} before a successful {@link #load()}. */
    static synchronized Path libtorchDirectory() {
        return libtorch;
    }

    /** {@code <os>-<arch>} as the jar's {@code native/} folder names it; must agree with gradle/rust.gradle. */
    static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        String osName = os.startsWith("linux") ? "linux"
                : os.startsWith("mac") || os.startsWith("darwin") ? "macos"
                : os.startsWith("windows") ? "windows" : os.replaceAll("\\W+", "");
        String archName = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64"
                : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
        return osName + "-" + archName;
    }

    /** {@code DLC_CACHE}, else {@code ~/.cache/dlclassifier}: the same root the Rust side uses. */
    static Path cacheRoot() {
        String env = System.getenv("DLC_CACHE");
        return env != null && !env.isEmpty()
                ? Paths.get(env)
                : Paths.get(System.getProperty("user.home"), ".cache", "dlclassifier");
    }

    /**
     * Folders that may hold libtorch's libraries, in search order. An explicit
     * {@code dlclassifier.libtorch} / {@code DLC_LIBTORCH} is the only
     * candidate, so a wrong setting fails instead of being silently ignored.
     * Otherwise: {@code $LIBTORCH/lib}, the folder of an overriding library,
     * then {@code <cache>/libtorch-<version>/lib} as {@code scripts/deps.sh} installs it.
     */
    private static List<Path> libtorchCandidates(Path override, String libtorchVersion) {
        List<Path> found = new ArrayList<>();
        String explicit = setting(LIBTORCH_PROPERTY, LIBTORCH_ENV);
        if (explicit != null) {
            Path dir = Paths.get(explicit).toAbsolutePath();
            found.add(dir.resolve("lib"));
            found.add(dir);
            return found;
        }
        String env = System.getenv("LIBTORCH");
        if (env != null && !env.isEmpty()) {
            found.add(Paths.get(env).toAbsolutePath().resolve("lib"));
        }
        if (override != null) {
            found.add(override.getParent());
        }
        found.add(cacheRoot().resolve("libtorch-" + libtorchVersion).resolve("lib"));
        return found;
    }

    private static Path findLibtorch(Path override, String libtorchVersion) {
        List<Path> candidates = libtorchCandidates(override, libtorchVersion);
        for (Path dir : candidates) {
            if (Files.isRegularFile(dir.resolve(System.mapLibraryName("c10")))
                    && Files.isRegularFile(dir.resolve(System.mapLibraryName("torch_cpu")))) {
                return dir;
            }
        }
        List<String> tried = new ArrayList<>();
        for (Path dir : candidates) {
            tried.add(dir.toString());
        }
        throw new UnsatisfiedLinkError("libtorch " + libtorchVersion + " not found (looked for "
                + System.mapLibraryName("torch_cpu") + " in " + String.join(", ", tried) + "); " + INSTALL_HINT);
    }

    /**
     * Loads the CPU runtime, which must succeed, then the GPU runtime and the
     * {@code torch} stub where present: CUDA kernels only register when
     * {@code torch_cuda} is loaded explicitly, and a CPU-only folder may hold a
     * {@code torch} stub that needs it. Returns why optional ones were skipped.
     */
    private static List<String> preloadLibtorch(Path dir) {
        for (String name : new String[] {"c10", "torch_cpu"}) {
            Path file = dir.resolve(System.mapLibraryName(name));
            try {
                System.load(file.toString());
            } catch (UnsatisfiedLinkError e) {
                throw linkError("cannot load " + file + ": " + e.getMessage() + "; " + INSTALL_HINT, e);
            }
        }
        List<String> skipped = new ArrayList<>();
        for (String name : new String[] {"torch_cuda", "torch"}) {
            Path file = dir.resolve(System.mapLibraryName(name));
            if (Files.isRegularFile(file)) {
                try {
                    System.load(file.toString());
                } catch (UnsatisfiedLinkError e) {
                    skipped.add(e.getMessage());
                }
            }
        }
        return skipped;
    }

    /** The library named by the property or environment variable, which must exist. */
    private static Path override() {
        String value = setting(PATH_PROPERTY, PATH_ENV);
        if (value == null) {
            return null;
        }
        String source = value.equals(System.getProperty(PATH_PROPERTY)) ? "-D" + PATH_PROPERTY : PATH_ENV;
        Path path = Paths.get(value).toAbsolutePath();
        if (!Files.isRegularFile(path)) {
            throw new UnsatisfiedLinkError(source + " names " + path + ", which is not a file; unset it to use the "
                    + "library inside the jar, or point it at " + System.mapLibraryName(NAME));
        }
        return path;
    }

    private static String setting(String property, String env) {
        String value = System.getProperty(property);
        if (value == null || value.isEmpty()) {
            value = System.getenv(env);
        }
        return value == null || value.isEmpty() ? null : value;
    }

    /**
     * The jar's library in its versioned cache folder, extracted on first use.
     * A temporary file renamed into place means a concurrent JVM sees the
     * complete file or none, and the folder name changes with every build.
     */
    private static Path extract(String version) {
        String file = System.mapLibraryName(NAME);
        String resource = "/native/" + platform() + "/" + file;
        URL url = NativeLibrary.class.getResource(resource);
        if (url == null) {
            throw new UnsatisfiedLinkError("this dlclassifier jar has no native library for " + platform() + " ("
                    + resource + "); build the jar on this platform (gradle -p java jar) or set " + PATH_ENV);
        }
        String sha256 = sha256Of(resource);
        Path dir = cacheRoot().resolve("native").resolve(version + "-" + sha256.substring(0, 16));
        Path target = dir.resolve(file);
        Path tmp = null;
        try {
            URLConnection connection = url.openConnection();
            long size = connection.getContentLengthLong();
            if (Files.isRegularFile(target) && (size < 0 || Files.size(target) == size)) {
                return target;
            }
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, file + ".", ".tmp");
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            try (InputStream in = new DigestInputStream(connection.getInputStream(), digest)) {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            String actual = hex(digest.digest());
            if (!actual.equals(sha256)) {
                throw new UnsatisfiedLinkError(resource + " in the jar has SHA-256 " + actual + ", expected "
                        + sha256 + ": the jar is damaged");
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                // Windows cannot replace a file another JVM has loaded; that copy is as good.
                if (!Files.isRegularFile(target)) {
                    throw e;
                }
            }
            return target;
        } catch (IOException | NoSuchAlgorithmException e) {
            throw linkError("cannot extract the native library into " + dir + ": " + e
                    + "; set DLC_CACHE to a writable folder, or " + PATH_ENV + " to the library", e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // A stray temporary file only costs disk space.
                }
            }
        }
    }

    /** The digest in {@code <resource>.sha256}, written by the build in sha256sum's format. */
    private static String sha256Of(String resource) {
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource + ".sha256")) {
            if (in == null) {
                throw new UnsatisfiedLinkError(resource + ".sha256 is missing from the jar");
            }
            String text = new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim();
            return text.split("\\s+")[0];
        } catch (IOException e) {
            throw linkError("cannot read " + resource + ".sha256: " + e, e);
        }
    }

    private static Properties versions() {
        Properties properties = new Properties();
        try (InputStream in = NativeLibrary.class.getResourceAsStream(VERSIONS)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("org/dlclassifier/dlclassifier.properties is missing: "
                        + "use the jar built by Gradle");
            }
            properties.load(in);
        } catch (IOException e) {
            throw linkError("cannot read dlclassifier.properties: " + e, e);
        }
        return properties;
    }

    private static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            s.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return s.toString();
    }

    private static UnsatisfiedLinkError linkError(String message, Throwable cause) {
        UnsatisfiedLinkError error = new UnsatisfiedLinkError(message);
        error.initCause(cause);
        return error;
    }
}
