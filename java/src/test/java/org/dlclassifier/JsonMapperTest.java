package org.dlclassifier;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import org.dlclassifier.internal.Json;
import org.dlclassifier.internal.JsonMapper;
import org.junit.Test;

/** The value classes as the one mapper fills them from the engine's JSON; no native code. */
public class JsonMapperTest {
    private static <T> T read(Class<T> type, String json) {
        return JsonMapper.read(type, Json.parse(json));
    }

    @Test
    public void nestedListsPathsOptionalsAndRenamedMembers() {
        ModelInfo info = read(ModelInfo.class, "{\"name\":\"n\",\"source\":\"/m\",\"in_channels\":3,\"num_classes\":2,"
                + "\"classes\":[{\"index\":0,\"name\":\"a\",\"color\":\"#00FF00\"}],\"tile_size\":64,"
                + "\"fixed_size\":[64,96],\"min_size\":32,\"backend\":\"onnxruntime\",\"added_later\":true}");
        assertEquals(Paths.get("/m"), info.source());
        assertEquals(3, info.inChannels());
        assertEquals(0x00FF00, info.classes().get(0).rgb());
        assertEquals(OptionalInt.of(64), info.fixedHeight());
        assertEquals(OptionalInt.of(96), info.fixedWidth());
        ModelInfo agnostic = read(ModelInfo.class, "{\"name\":\"n\",\"source\":\"/m\",\"in_channels\":1,\"num_classes\":2,"
                + "\"classes\":[],\"tile_size\":64,\"fixed_size\":null,\"min_size\":0,\"backend\":\"b\"}");
        assertFalse(agnostic.fixedHeight().isPresent() || agnostic.fixedWidth().isPresent());

        EpochMetrics m = read(EpochMetrics.class, "{\"epoch\":2,\"total_epochs\":5,\"train_loss\":0.5,\"val_loss\":null,"
                + "\"pixel_accuracy\":1,\"per_class_iou\":[0.25,null],\"mean_iou\":0.25,\"learning_rate\":1e-3,"
                + "\"elapsed_s\":3.5,\"best_epoch\":2,\"best_score\":0.25,\"smoothed_score\":0.2,\"epochs_without_improvement\":0,"
                + "\"is_best\":true,\"samples\":16,\"steps\":4}");
        assertTrue(m.isBest());
        assertEquals(3.5, m.elapsedSeconds(), 0);
        assertTrue("a NaN metric arrives as null", Double.isNaN(m.valLoss()));
        assertEquals(1.0, m.pixelAccuracy(), 0);
        assertTrue(Double.isNaN(m.perClassIoU()[1]));
        assertEquals(0.2, m.smoothedScore(), 0);
        assertEquals(16, m.samples());
        assertEquals(4, m.steps());

        ApplyResult r = read(ApplyResult.class, "{\"files\":[\"/o/a.png\"],\"measurements\":{\"total_pixels\":"
                + "9007199254740993,\"area_unit\":null,\"classes\":[{\"index\":1,\"name\":\"x\",\"pixels\":3,"
                + "\"fraction\":0.5,\"area\":null}]},\"truth\":null,\"tiles\":4,\"seconds\":0.5}");
        assertEquals(Arrays.asList(Paths.get("/o/a.png")), r.files());
        assertEquals("exact beyond a double's 53 bits", 9007199254740993L, r.totalPixels());
        assertFalse(r.areaUnit().isPresent() || r.agreement().isPresent() || r.classes().get(0).area().isPresent());
    }

    @Test
    public void enumsUnsignedIntegersAndDerivedViews() {
        Catalog.Recommendation rec = read(Catalog.Recommendation.class, "{\"encoder\":\"resnet18\",\"tiles\":"
                + "18446744073709551615,\"size_class\":\"medium\",\"frozen_groups\":[\"stem\"],\"encoder_lr_factor\":0.3,"
                + "\"rationale\":\"r\"}");
        assertEquals(Catalog.SizeClass.MEDIUM, rec.sizeClass());
        assertEquals("an unsigned 64-bit value keeps its bits", -1L, rec.tiles());
        ModelRegistry.ValidationReport report = read(ModelRegistry.ValidationReport.class,
                "{\"valid\":false,\"problems\":[{\"file\":\"\",\"reason\":\"r1\"},{\"file\":\"model.pt\",\"reason\":\"r2\"}]}");
        assertEquals(Arrays.asList("r1", "model.pt: r2"), report.problems());
        List<Devices.DeviceInfo> devices = JsonMapper.readList(Devices.DeviceInfo.class, Json.parse(
                "[{\"id\":\"cpu\",\"name\":\"c\",\"total_memory\":8,\"threads\":2,\"torch_threads\":2},"
                        + "{\"id\":\"cuda:0\",\"name\":\"g\",\"total_memory\":null,\"threads\":null}]"));
        assertEquals(8, devices.get(0).totalMemory().getAsLong());
        assertFalse(devices.get(1).totalMemory().isPresent() || devices.get(1).torchThreads().isPresent());
        String memory = "{\"total\":10,\"free\":4,\"current\":6,\"peak\":7}";
        assertEquals(4, read(Devices.MemoryInfo.class, memory).free());
        assertEquals(7, read(Devices.MemorySnapshot.class, memory).peak());
    }

    @Test
    public void jsonThatDoesNotFitIsAnEngineFailureNamingTheMember() {
        try {
            read(Devices.MemoryInfo.class, "{\"total\":10}");
            fail("filled a missing member");
        } catch (DlcException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("MemoryInfo.free"));
        }
        try {
            read(ClassInfo.class, "{\"index\":4294967296,\"name\":\"a\",\"color\":\"#000000\"}");
            fail("an index beyond an int");
        } catch (DlcException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("ClassInfo.index"));
        }
    }
}
