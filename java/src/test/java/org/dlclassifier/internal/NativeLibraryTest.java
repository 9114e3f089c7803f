package org.dlclassifier.internal;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The loader in this JVM and, for what only a fresh process shows (extraction
 * reuse, overrides, no {@code LD_LIBRARY_PATH}), in child JVMs started on the
 * built jar.
 */
public class NativeLibraryTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /** What a child JVM runs: load the jar's library and call into it. */
    public static final class Probe {
        private Probe() {
        }

        /**
         * Prints what was loaded, one {@code key=value} per line.
         *
         * @param args unused
         */
        public static void main(String[] args) {
            Native.load();
            System.out.println("version=" + Native.version());
            System.out.println("library=" + NativeLibrary.path());
            System.out.println("libtorch=" + NativeLibrary.libtorchDirectory());
        }
    }

    private static final class Run {
        final int exit;
        final String output;

        Run(int exit, String output) {
            this.exit = exit;
            this.output = output;
        }

        String value(String key) {
            for (String line : output.split("\\R")) {
                if (line.startsWith(key + "=")) {
                    return line.substring(key.length() + 1);
                }
            }
            throw new AssertionError("no " + key + "= in the child's output:\n" + output);
        }
    }

    @Test
    public void loadIsIdempotentAndCallsIntoTheLibrary() throws IOException {
        Native.load();
        Path first = NativeLibrary.path();
        NativeLibrary.load();
        assertSame(first, NativeLibrary.path());
        assertEquals(jarVersion(), Native.version());
    }

    /**
     * In a child JVM: this one runs on the test build of the library
     * ({@code dlclassifier.native.path}), the jar carries the production one.
     */
    @Test
    public void extractsIntoAFolderNamedByVersionAndHash() throws Exception {
        Path dir = Paths.get(succeed(probe(new HashMap<>())).value("library")).getParent();
        assertEquals(NativeLibrary.cacheRoot().resolve("native"), dir.getParent());
        assertEquals(jarVersion() + "-" + jarSha256().substring(0, 16), dir.getFileName().toString());
    }

    @Test
    public void laterProcessesReuseTheExtractedLibrary() throws Exception {
        Native.load();
        Map<String, String> env = new HashMap<>();
        env.put("DLC_CACHE", tmp.getRoot().toString());
        String libtorch = "-D" + NativeLibrary.LIBTORCH_PROPERTY + "=" + NativeLibrary.libtorchDirectory();

        Path library = Paths.get(succeed(probe(env, libtorch)).value("library"));
        assertTrue(library + " is outside DLC_CACHE", library.startsWith(tmp.getRoot().toPath()));
        BasicFileAttributes before = Files.readAttributes(library, BasicFileAttributes.class);

        assertEquals(library, Paths.get(succeed(probe(env, libtorch)).value("library")));
        BasicFileAttributes after = Files.readAttributes(library, BasicFileAttributes.class);
        assertEquals("the library was written again", before.lastModifiedTime(), after.lastModifiedTime());
        assertEquals("the library was replaced", before.fileKey(), after.fileKey());
        assertEquals(Arrays.asList(library.getParent()), list(library.getParent().getParent()));
        assertEquals("temporary files were left behind", Arrays.asList(library), list(library.getParent()));
    }

    @Test
    public void aBareJavaProcessLoadsTheJar() throws Exception {
        Run run = succeed(probe(new HashMap<>()));
        assertEquals(jarVersion(), run.value("version"));
        assertTrue(run.value("library").startsWith(NativeLibrary.cacheRoot().resolve("native").toString()));
    }

    @Test
    public void aMissingOverrideIsNamed() throws Exception {
        String missing = tmp.getRoot().toPath().resolve("nowhere").resolve(System.mapLibraryName("x")).toString();
        Run byProperty = fail(probe(new HashMap<>(), "-D" + NativeLibrary.PATH_PROPERTY + "=" + missing));
        assertTrue(byProperty.output, byProperty.output.contains("-D" + NativeLibrary.PATH_PROPERTY + " names " + missing));

        Map<String, String> env = new HashMap<>();
        env.put(NativeLibrary.PATH_ENV, missing);
        Run byEnv = fail(probe(env));
        assertTrue(byEnv.output, byEnv.output.contains(NativeLibrary.PATH_ENV + " names " + missing));
    }

    @Test
    public void aLibtorchFolderWithoutLibtorchSaysWhereItLookedAndWhatToDo() throws Exception {
        Path empty = tmp.newFolder("libtorch").toPath();
        Run run = fail(probe(new HashMap<>(), "-D" + NativeLibrary.LIBTORCH_PROPERTY + "=" + empty));
        assertTrue(run.output, run.output.contains(empty.resolve("lib") + ", " + empty + ")"));
        assertTrue(run.output, run.output.contains("scripts/deps.sh libtorch"));
    }

    /**
     * Runs {@link Probe} on the built jar, as a user would: no
     * {@code LD_LIBRARY_PATH}, no {@code java.library.path}, no inherited
     * override. {@code env} values replace inherited ones.
     */
    private Run probe(Map<String, String> env, String... jvmArgs) throws Exception {
        String jar = System.getProperty("dlclassifier.test.jar");
        assertNotNull("dlclassifier.test.jar is unset: run the tests with `gradle -p java test`", jar);
        String probeClasses = Paths.get(Probe.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(Arrays.asList(jvmArgs));
        command.addAll(Arrays.asList("-cp", jar + File.pathSeparator + probeClasses, Probe.class.getName()));

        ProcessBuilder builder = new ProcessBuilder(command);
        Map<String, String> childEnv = builder.environment();
        for (String name : new String[] {"LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", NativeLibrary.PATH_ENV, NativeLibrary.LIBTORCH_ENV}) {
            childEnv.remove(name);
        }
        childEnv.putAll(env);
        File log = tmp.newFile();
        Process process = builder.redirectErrorStream(true).redirectOutput(log).start();
        if (!process.waitFor(2, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError("the child JVM did not finish: " + command);
        }
        return new Run(process.exitValue(), new String(Files.readAllBytes(log.toPath()), StandardCharsets.UTF_8));
    }

    private static Run succeed(Run run) {
        assertEquals(run.output, 0, run.exit);
        return run;
    }

    private static Run fail(Run run) {
        assertNotEquals(run.output, 0, run.exit);
        assertTrue(run.output, run.output.contains("UnsatisfiedLinkError"));
        return run;
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.collect(Collectors.toList());
        }
    }

    private static String jarVersion() throws IOException {
        Properties properties = new Properties();
        try (InputStream in = NativeLibrary.class.getResourceAsStream(NativeLibrary.VERSIONS)) {
            properties.load(in);
        }
        return properties.getProperty("version");
    }

    private static String jarSha256() throws IOException {
        String resource = "/native/" + NativeLibrary.platform() + "/" + System.mapLibraryName("dlclassifier_native") + ".sha256";
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\\s+")[0];
        }
    }
}
