package org.dlclassifier.internal;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The native ABI is exactly {@link Native}: every {@code Java_*} symbol the
 * production library exports is one of its native methods and back, and the
 * test build ({@code dlclassifier.native.path}) adds exactly {@link TestNative}'s.
 */
public class NativeSymbolsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void theProductionLibraryExportsExactlyTheNativesOfNative() throws Exception {
        assertSameSymbols(declared(Native.class), exported(productionLibrary()));
    }

    @Test
    public void theTestBuildAddsExactlyTheNativesOfTestNative() throws Exception {
        String path = System.getProperty(NativeLibrary.PATH_PROPERTY);
        assertNotNull("-D" + NativeLibrary.PATH_PROPERTY + " is unset: run the tests with `gradle -p java test`", path);
        Set<String> expected = declared(Native.class);
        expected.addAll(declared(TestNative.class));
        assertSameSymbols(expected, exported(Paths.get(path)));
    }

    /** Equal sets, or a message naming what each side lacks. */
    private static void assertSameSymbols(Set<String> declared, Set<String> exported) {
        Set<String> missing = new TreeSet<>(declared);
        missing.removeAll(exported);
        Set<String> undeclared = new TreeSet<>(exported);
        undeclared.removeAll(declared);
        assertEquals("declared but not exported: " + missing + "; exported but not declared: " + undeclared,
                declared, exported);
    }

    /** The symbols JNI looks up for the class's native methods (none is overloaded: the short form). */
    private static Set<String> declared(Class<?> type) {
        Set<String> names = new TreeSet<>();
        for (Method method : type.getDeclaredMethods()) {
            if (Modifier.isNative(method.getModifiers())) {
                names.add("Java_" + mangle(type.getName()) + "_" + mangle(method.getName()));
            }
        }
        assertTrue(type + " declares no native method", !names.isEmpty());
        return names;
    }

    /** JNI's escaping of a class or method name: '.' as '_', '_' as "_1", others beyond ASCII as "_0xxxx". */
    private static String mangle(String name) {
        StringBuilder out = new StringBuilder();
        for (char c : name.toCharArray()) {
            if (c == '.') {
                out.append('_');
            } else if (c == '_') {
                out.append("_1");
            } else if (c == ';') {
                out.append("_2");
            } else if (c == '[') {
                out.append("_3");
            } else if (c < 128 && Character.isLetterOrDigit(c)) {
                out.append(c);
            } else {
                out.append(String.format("_0%04x", (int) c));
            }
        }
        return out.toString();
    }

    /** The library the jar carries, as staged on the test class path. */
    private Path productionLibrary() throws IOException {
        String resource = "/native/" + NativeLibrary.platform() + "/" + System.mapLibraryName("dlclassifier_native");
        Path copy = tmp.getRoot().toPath().resolve(System.mapLibraryName("dlclassifier_native"));
        try (InputStream in = NativeSymbolsTest.class.getResourceAsStream(resource)) {
            assertNotNull(resource + " is not on the class path", in);
            Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
        }
        return copy;
    }

    /** The {@code Java_*} functions the library defines in its dynamic symbol table. */
    private Set<String> exported(Path library) throws Exception {
        File out = tmp.newFile();
        Process nm = new ProcessBuilder("nm", "-D", "--defined-only", library.toString())
                .redirectErrorStream(true).redirectOutput(out).start();
        assertTrue("nm did not finish", nm.waitFor(1, TimeUnit.MINUTES));
        String listing = new String(Files.readAllBytes(out.toPath()), StandardCharsets.UTF_8);
        assertEquals(listing, 0, nm.exitValue());
        Set<String> names = new TreeSet<>();
        for (String line : listing.split("\\R")) {
            String[] fields = line.trim().split("\\s+");
            String symbol = fields[fields.length - 1];
            if (symbol.startsWith("Java_")) {
                names.add(symbol);
            }
        }
        return names;
    }
}
