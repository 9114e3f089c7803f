package org.dlclassifier;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

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
        assertEquals(Arrays.asList("unet", "unet++", "deeplabv3", "deeplabv3+", "fpn", "pspnet", "manet", "linknet", "pan"),
                architectures.stream().map(Catalog.Architecture::name).collect(Collectors.toList()));
        Catalog.Architecture unet = architectures.get(0);
        assertEquals(Arrays.asList("resnet18", "resnet34", "resnet50", "mobilenet_v2", "efficientnet-b0",
                "resnext50_32x4d", "efficientnet-b1", "efficientnet-b2", "efficientnet-b3", "efficientnet-b4",
                "se_resnet50", "densenet121", "vgg16_bn", "mit_b0", "mit_b2"),
                unet.encoders().stream().map(Catalog.Encoder::name).collect(Collectors.toList()));
        // smp cannot dilate VGG for DeepLab, nor build UNet++ on a transformer.
        List<String> deeplab = architectures.get(2).encoders().stream().map(Catalog.Encoder::name).collect(Collectors.toList());
        assertTrue(deeplab.contains("resnet34") && !deeplab.contains("vgg16_bn"));
        assertTrue(architectures.get(1).encoders().stream().noneMatch(e -> e.name().startsWith("mit_b")));
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
        Catalog.Encoder resnet50 = unet.encoders().get(2);
        List<String> sets = resnet50.pretrained().stream().map(Catalog.WeightSet::name).collect(Collectors.toList());
        assertEquals(Arrays.asList("imagenet", "lunit-swav", "lunit-bt", "kather100k", "tcga-brca"), sets);
        Catalog.WeightSet swav = resnet50.pretrained().get(1);
        assertEquals("resnet50_lunit-swav", swav.fileStem());
        assertTrue(swav.licence(), swav.licence().contains("non-commercial"));
        assertTrue(swav.source().contains("Lunit") || swav.source().contains("lunit"));
        assertEquals(1, resnet18.pretrained().size());
        assertTrue(unet.toString().startsWith("unet ["));
        assertEquals("stem", stem.toString());
        assertEquals("resnet18", resnet18.toString());
    }

    @Test
    public void recommendsFreezingAndEncoderLearningRatesByDataSize() {
        Catalog.Recommendation small = Catalog.recommend("resnet18", 100);
        assertEquals(Catalog.SizeClass.SMALL, small.sizeClass());
        assertEquals("resnet18", small.encoder());
        assertEquals(100, small.tiles());
        assertEquals(Arrays.asList("stem", "layer1", "layer2", "layer3"), small.frozenGroups());
        assertEquals(0.1, small.encoderLrFactor(), 0);
        assertTrue(small.rationale(), small.rationale().contains("small"));
        Catalog.Recommendation medium = Catalog.recommend("efficientnet-b0", 500);
        assertEquals(Catalog.SizeClass.MEDIUM, medium.sizeClass());
        assertEquals(Arrays.asList("stem", "stage2"), medium.frozenGroups());
        Catalog.Recommendation large = Catalog.recommend("mobilenet_v2", 5000);
        assertEquals(Catalog.SizeClass.LARGE, large.sizeClass());
        assertEquals(Arrays.asList("stem"), large.frozenGroups());
        assertEquals(1.0, large.encoderLrFactor(), 0);

        TrainingConfig c = TrainingConfig.builder().learningRate(5e-4).apply(medium).build();
        assertEquals("efficientnet-b0", c.encoder());
        assertEquals(medium.frozenGroups(), c.frozenGroups());
        assertEquals(medium.encoderLrFactor(), c.encoderLrFactor(), 0);
        assertEquals(5e-4, c.learningRate(), 0);

        for (String bad : new String[] {"vgg99"}) {
            try {
                Catalog.recommend(bad, 10);
                fail("unknown encoder accepted");
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("vgg99"));
            }
        }
        try {
            Catalog.recommend("resnet18", -1);
            fail("negative tiles accepted");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("tiles"));
        }
    }
}
