package org.dlclassifier;

import static org.dlclassifier.InferenceFixtures.nucleiModel;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Every public constructor and method of the API's public classes, builders
 * included, called with null for each reference parameter in turn: each must
 * throw a {@link NullPointerException} naming that parameter before it does
 * anything, unless the parameter is documented as nullable (listed in
 * {@link #NULLABLE}). The classes are found on the class path, so new API is
 * covered without being listed; a new class with instance methods needs an
 * instance in {@link #instances}.
 */
public class NullArgumentsTest {
    /** Parameters whose Javadoc allows null, as {@code Class.method(ParameterTypes) parameter}. */
    private static final Set<String> NULLABLE = Set.of(
            "ApplyOptions.Builder.objects(ObjectOptions) objects",
            "ApplyOptions.Builder.progressListener(ProgressListener) listener",
            "ApplyOptions.Builder.region(Region) region",
            "ApplyOptions.Builder.truthMask(Path) truthMask",
            "ModelBundle.open(Path,String) modelName",
            "Predictor.openOnnx(Path,Path,PredictorOptions) metadata",
            "Predictor.classifyRegion(RegionReader,int,int,int,int,ApplyOptions,ByteBuffer,ProbabilityFormat,ByteBuffer) probabilities",
            "Predictor.classifyRegion(RegionReader,int,int,int,int,ApplyOptions,ByteBuffer,ProbabilityFormat,ByteBuffer) classMap",
            "Predictor.predict(ByteBuffer,TileLayout,ByteBuffer,ByteBuffer) probabilities",
            "Predictor.predict(ByteBuffer,TileLayout,ByteBuffer,ByteBuffer) classMap",
            "Predictor.predict(ByteBuffer,TileLayout,ByteBuffer,ProbabilityFormat,ByteBuffer) probabilities",
            "Predictor.predict(ByteBuffer,TileLayout,ByteBuffer,ProbabilityFormat,ByteBuffer) classMap",
            "Reservation.reserve(String,long,Duration,long,Path) dir",
            "Trainer.start(Path,Path,TrainingConfig,TrainingListener) listener",
            "Trainer.train(Path,Path,TrainingConfig,TrainingListener) listener",
            "TrainingConfig.Builder.classWeightMultipliers(List) multipliers",
            "TrainingConfig.Builder.encoderWeights(String) weights",
            "TrainingConfig.Builder.gradientClip(Double) maxNorm",
            "TrainingConfig.Builder.initWeights(Path) stateDict",
            "TrainingConfig.Builder.name(String) name",
            "TrainingConfig.Builder.normalization(Normalization) normalization",
            "TrainingConfig.Builder.samplesPerEpoch(Integer) samples",
            "TrainingConfig.Builder.threads(Integer) threads",
            "TrainingConfig.Builder.tileSize(Integer) tileSize",
            "TrainingConfig.Builder.weightsDir(Path) folder",
            "TransferSettings.Builder.encoderWeights(String) weights",
            "TransferSettings.Builder.initWeights(Path) stateDict",
            "TransferSettings.Builder.weightsDir(Path) folder");

    /**
     * Public types not called, with the reason. Enums are skipped as a kind:
     * their only methods with a reference parameter are the compiler's
     * {@code valueOf(String)}, whose null check is the JDK's.
     */
    private static final Map<Class<?>, String> SKIPPED = Map.of(
            DlcException.class, "an exception: Throwable's contract allows a null message and cause",
            DlcOutOfMemoryException.class, "an exception: Throwable's contract allows a null message",
            DlcTimeoutException.class, "an exception: Throwable's contract allows a null message",
            RegionReader.class, "an interface the caller implements",
            ObjectMeasurement.class, "an interface the caller implements",
            TrainingListener.class, "an interface the caller implements",
            ApplyOptions.ProgressListener.class, "an interface the caller implements");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void everyNonNullableParameterIsCheckedByName() throws Exception {
        List<Class<?>> classes = publicClasses();
        assertTrue("the scan found the API: " + classes, classes.contains(ApplyOptions.Builder.class));
        List<String> failures = new ArrayList<>();
        Set<String> nullableSeen = new TreeSet<>();
        int calls = 0;
        try (Predictor predictor = Predictor.open(nucleiModel(), PredictorOptions.builder().device("cpu").build());
                TrainingJob job = new TrainingJob(tmp.getRoot().toPath(), tmp.getRoot().toPath().resolve("job"),
                        TrainingConfig.builder().build(), null)) {
            Map<Class<?>, Supplier<Object>> instances = instances(predictor, job);
            for (Class<?> type : classes) {
                if (type.isEnum() || SKIPPED.containsKey(type)) {
                    continue;
                }
                List<Executable> members = new ArrayList<>(Arrays.asList(type.getConstructors()));
                for (Method m : type.getDeclaredMethods()) {
                    if (Modifier.isPublic(m.getModifiers()) && !m.isSynthetic() && !isEquals(m)) {
                        members.add(m);
                    }
                }
                for (Executable member : members) {
                    Parameter[] params = member.getParameters();
                    for (int i = 0; i < params.length; i++) {
                        if (params[i].getType().isPrimitive()) {
                            continue;
                        }
                        assertTrue("compiled without -parameters: " + member, params[i].isNamePresent());
                        String key = key(member) + " " + params[i].getName();
                        if (NULLABLE.contains(key)) {
                            nullableSeen.add(key);
                            continue;
                        }
                        calls++;
                        String failure = callWithNull(member, i, instances);
                        if (failure != null) {
                            failures.add(key + ": " + failure);
                        }
                    }
                }
            }
        }
        assertEquals("every listed nullable parameter exists", new TreeSet<>(NULLABLE), nullableSeen);
        assertTrue("too few calls for the whole API: " + calls, calls > 50);
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + calls + " null arguments were not rejected by name:\n  "
                    + String.join("\n  ", failures));
        }
    }

    /** Null for parameter {@code index}, valid values for the others; null when the right NPE came. */
    private String callWithNull(Executable member, int index, Map<Class<?>, Supplier<Object>> instances)
            throws Exception {
        Class<?>[] types = member.getParameterTypes();
        Object[] args = new Object[types.length];
        for (int i = 0; i < types.length; i++) {
            args[i] = i == index ? null : dummy(types[i]);
        }
        Throwable thrown;
        try {
            if (member instanceof Constructor) {
                ((Constructor<?>) member).newInstance(args);
            } else {
                Method method = (Method) member;
                Object target = null;
                if (!Modifier.isStatic(method.getModifiers())) {
                    Supplier<Object> instance = instances.get(method.getDeclaringClass());
                    if (instance == null) {
                        return "no instance of " + method.getDeclaringClass().getName() + " in instances()";
                    }
                    target = instance.get();
                }
                method.invoke(target, args);
            }
            return "returned normally";
        } catch (InvocationTargetException e) {
            thrown = e.getCause();
        }
        String name = member.getParameters()[index].getName();
        if (!(thrown instanceof NullPointerException)) {
            return "threw " + thrown;
        }
        String message = thrown.getMessage();
        if (!name.equals(message) && !(name + " must not be null").equals(message)) {
            return "NullPointerException with message " + (message == null ? "null" : "'" + message + "'")
                    + ", not naming '" + name + "'";
        }
        return null;
    }

    /** Objects to call instance methods on, fresh for each call where they are builders. */
    private static Map<Class<?>, Supplier<Object>> instances(Predictor predictor, TrainingJob job) {
        Map<Class<?>, Supplier<Object>> instances = new HashMap<>();
        instances.put(Predictor.class, () -> predictor);
        instances.put(TrainingJob.class, () -> job);
        instances.put(TileLayout.class, () -> TileLayout.of(1, 1, 32, 32, TileLayout.Order.HWC, TileLayout.Dtype.U8));
        instances.put(ApplyOptions.Builder.class, ApplyOptions::builder);
        instances.put(PredictorOptions.Builder.class, PredictorOptions::builder);
        instances.put(TrainingConfig.Builder.class, TrainingConfig::builder);
        instances.put(TransferSettings.Builder.class, TransferSettings::builder);
        instances.put(Augmentation.Builder.class, Augmentation::builder);
        instances.put(ObjectOptions.Builder.class, ObjectOptions::builder);
        instances.put(Region.class, () -> Region.polygon(new double[][] {{0, 0}, {1, 0}, {1, 1}}));
        instances.put(DetectedObject.class, NullArgumentsTest::oneObject);
        return instances;
    }

    /** One object, read from a one-feature GeoJSON file. */
    private static Object oneObject() {
        try {
            Path file = Files.createTempFile("one", ".geojson");
            Files.write(file, ("{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"geometry\":"
                    + "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]},\"properties\":{\"objectType\":"
                    + "\"detection\",\"classification\":{\"name\":\"A\",\"color\":[1,2,3]},\"measurements\":{\"Area px^2\":0.5}}}]}")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            Object object = DetectedObject.readGeoJson(file).get(0);
            Files.delete(file);
            return object;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A valid value of each parameter type of the API, harmless should a null check be missing. */
    private Object dummy(Class<?> type) {
        if (type == int.class || type == Integer.class) {
            return 1;
        } else if (type == long.class || type == Long.class) {
            return 1L;
        } else if (type == double.class || type == Double.class) {
            return 1.0;
        } else if (type == boolean.class) {
            return false;
        } else if (type.isEnum()) {
            return type.getEnumConstants()[0];
        } else if (type == String.class) {
            return "cpu";
        } else if (type == Path.class) {
            // An empty folder: neither a model nor a bundle, and nothing to overwrite.
            return tmp.getRoot().toPath().resolve("dummy");
        } else if (type == List.class) {
            return Collections.emptyList();
        } else if (type == Duration.class) {
            return Duration.ZERO;
        } else if (type == ByteBuffer.class) {
            return ByteBuffer.allocateDirect(32 * 32 * 2);
        } else if (type == float[].class) {
            return new float[32 * 32];
        } else if (type == byte[].class) {
            return new byte[32 * 32];
        } else if (type == TileLayout.class) {
            return TileLayout.of(1, 1, 32, 32, TileLayout.Order.HWC, TileLayout.Dtype.U8);
        } else if (type == ApplyOptions.class) {
            return ApplyOptions.defaults();
        } else if (type == PredictorOptions.class) {
            return PredictorOptions.defaults();
        } else if (type == TrainingConfig.class) {
            return TrainingConfig.builder().build();
        } else if (type == TransferSettings.class) {
            return TransferSettings.builder().build();
        } else if (type == Augmentation.class) {
            return Augmentation.builder().build();
        } else if (type == Scheduler.class) {
            return Scheduler.none();
        } else if (type == Normalization.class) {
            return Normalization.of(Normalization.Strategy.MIN_MAX, false);
        } else if (type == Catalog.Recommendation.class) {
            return Catalog.recommend("resnet18", 10);
        } else if (type == RegionReader.class) {
            return new RegionReader() {
                @Override
                public int width() {
                    return 32;
                }

                @Override
                public int height() {
                    return 32;
                }

                @Override
                public int channels() {
                    return 1;
                }

                @Override
                public void read(int x, int y, int w, int h, FloatBuffer dest) {
                }
            };
        } else if (type == ApplyOptions.ProgressListener.class) {
            return (ApplyOptions.ProgressListener) (done, total) -> { };
        } else if (type == TrainingListener.class) {
            return (TrainingListener) metrics -> { };
        } else if (type == double[][].class) {
            return new double[][] {{0, 0}, {1, 0}, {1, 1}, {0, 0}};
        } else if (type == double[][][].class) {
            return new double[0][][];
        }
        throw new AssertionError("no dummy value for " + type.getName() + ": add one to dummy()");
    }

    private static boolean isEquals(Method m) {
        return m.getName().equals("equals") && m.getParameterCount() == 1;
    }

    /** {@code Class.method(ParameterTypes)} with simple names, nested classes as {@code Outer.Inner}. */
    private static String key(Executable member) {
        String types = Arrays.stream(member.getParameterTypes()).map(Class::getSimpleName)
                .collect(Collectors.joining(","));
        String owner = member.getDeclaringClass().getName().substring("org.dlclassifier.".length()).replace('$', '.');
        String name = member instanceof Constructor ? "<init>" : member.getName();
        return owner + "." + name + "(" + types + ")";
    }

    /** The public classes of package org.dlclassifier, read from the directory or jar it was loaded from. */
    private static List<Class<?>> publicClasses() throws Exception {
        Path location = codeLocation();
        List<Class<?>> classes = new ArrayList<>();
        if (Files.isDirectory(location)) {
            addPublicClasses(location, classes);
        } else {
            try (FileSystem jar = FileSystems.newFileSystem(location, (ClassLoader) null)) {
                addPublicClasses(jar.getPath("/"), classes);
            }
        }
        return classes;
    }

    private static Path codeLocation() throws URISyntaxException {
        return Paths.get(Predictor.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static void addPublicClasses(Path root, List<Class<?>> classes) throws Exception {
        try (Stream<Path> files = Files.list(root.resolve("org").resolve("dlclassifier"))) {
            for (Path file : files.sorted().collect(Collectors.toList())) {
                String name = file.getFileName().toString();
                if (!name.endsWith(".class") || name.equals("package-info.class")) {
                    continue;
                }
                String binaryName = name.substring(0, name.length() - ".class".length());
                Class<?> type = Class.forName("org.dlclassifier." + binaryName);
                if (isVisible(type) && !type.isAnonymousClass()) {
                    classes.add(type);
                }
            }
        }
    }

    /** Public, and nested only in public classes: reachable by users. */
    private static boolean isVisible(Class<?> type) {
        for (Class<?> c = type; c != null; c = c.getEnclosingClass()) {
            if (!Modifier.isPublic(c.getModifiers())) {
                return false;
            }
        }
        return true;
    }
}
