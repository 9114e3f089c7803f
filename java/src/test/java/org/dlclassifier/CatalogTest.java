package org.dlclassifier;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.Test;

/** The architectures and encoders the engine can build. */
public class CatalogTest {
    @Test
    public void listsEveryEncoderWithSmpParameterCountsAndFreezeGroups() {
        List<Catalog.Architecture> architectures = Catalog.architectures();
        assertSame("computed once", architectures, Catalog.architectures());
        Catalog.Architecture unet = architectures.get(0);
        assertEquals("unet", unet.name());
        assertEquals(Arrays.asList("resnet18", "resnet34", "resnet50", "mobilenet_v2", "efficientnet-b0"),
                unet.encoders().stream().map(Catalog.Encoder::name).collect(Collectors.toList()));
        Catalog.Encoder resnet18 = unet.encoders().get(0);
        // segmentation_models_pytorch: Unet("resnet18", classes=2) and its encoder.
        assertEquals(11_176_512L, resnet18.encoderParameters());
        assertEquals(14_328_354L, resnet18.modelParameters());
        Catalog.FreezeGroup stem = resnet18.freezeGroups().get(0);
        assertEquals("stem", stem.name());
        assertEquals(Arrays.asList("conv1.", "bn1."), stem.prefixes());
        assertEquals("layer4", resnet18.freezeGroups().get(4).name());
        for (Catalog.Encoder e : unet.encoders()) {
            assertTrue(e + " has groups", !e.freezeGroups().isEmpty());
            assertTrue(e.encoderParameters() < e.modelParameters());
        }
        assertTrue(unet.toString().startsWith("unet ["));
        assertEquals("stem", stem.toString());
        assertEquals("resnet18", resnet18.toString());
    }
}
