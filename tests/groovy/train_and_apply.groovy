// Train a pixel classifier on a QuPath training export, then apply it to a
// whole image read through a RegionReader, as a QuPath script would (there the
// reader wraps the ImageServer). `make demo` runs this script; so does
// `make test`, with one short epoch.
//
//   groovy -cp dlclassifier.jar train_and_apply.groovy data=DIR out=DIR image=FILE \
//       [truth=MASK.png] [epochs=N] [samples=N] [tile=N] [batch=N] [encoder=NAME]
//
// Settings not given keep the engine's defaults (UNet-resnet34, 50 epochs
// with early stopping); the tile size and the crops per epoch are then
// chosen from the training data (the plan printed first).

import groovy.json.JsonOutput
import java.awt.image.BufferedImage
import java.nio.FloatBuffer
import java.nio.file.Path
import java.nio.file.Paths
import java.util.logging.Level
import java.util.logging.Logger
import javax.imageio.ImageIO
import org.dlclassifier.*

def opt = args.collectEntries { it.split('=', 2) as List }
def required = { String key ->
    if (!opt[key]) { System.err.println("missing ${key}=..."); System.exit(2) }
    Paths.get(opt[key])
}
Path data = required('data'), out = required('out'), imageFile = required('image')
Path truth = opt.truth ? Paths.get(opt.truth) : null
int threads = Runtime.runtime.availableProcessors()
// Engine events arrive through java.util.logging (in QuPath, its log window);
// this script prints its own progress, so only warnings are shown.
Logger.getLogger(Logging.LOGGER_NAME).level = Level.WARNING
Logging.refreshLevel()

// Training: every option of the Python extension has a builder method; null
// leaves a setting to the engine.
def builder = TrainingConfig.builder()
        .samplesPerEpoch(opt.samples ? opt.samples as Integer : null)
        .tileSize(opt.tile ? opt.tile as Integer : null)
        .threads(threads)
        .resume(false)
        .overwrite(true)
if (opt.encoder) {
    builder.encoder(opt.encoder)
}
if (opt.epochs) {
    builder.epochs(opt.epochs as int)
}
if (opt.batch) {
    builder.batchSize(opt.batch as int)
}
def config = builder.build()

// What the run will use, with the reasons: the settings left open are chosen from the data.
TrainingPlan plan = Trainer.plan(data, config)
TrainingConfig resolved = plan.config()
println "Training UNet-${config.encoder()} on ${data} (${config.epochs()} epochs of ${plan.stepsPerEpoch()} steps, " +
        "tile ${resolved.tileSize().asInt}, batch ${resolved.batchSize()})"
plan.choices().each { println "  ${it}" }
TrainingJob job = Trainer.start(data, out.resolve('model'), config)
job.addListener({ EpochMetrics m ->
    printf('  epoch %2d/%d  %d crops in %d steps  train loss %.3f  val loss %.3f  mean IoU %.3f%s%n', m.epoch(),
            m.totalEpochs(), m.samples(), m.steps(), m.trainLoss(), m.valLoss(), m.meanIoU(), m.isBest() ? '  (best)' : '')
} as TrainingListener)
TrainingResult trained = job.await()
assert trained.plan() == plan.choices() : 'the run followed another plan'
assert trained.model().trainingConfig() == resolved : 'the model records other settings than the plan'
EpochMetrics best = trained.bestEpoch()
printf('Best epoch %d: validation mean IoU %.3f, pixel accuracy %.3f%n', best.epoch(), best.meanIoU(), best.pixelAccuracy())
['model.pt', 'model.onnx', 'metadata.json', 'training_history.json'].each {
    assert trained.modelDir().resolve(it).toFile().isFile() : "training wrote no ${it}"
}

// Whole-image inference: the engine asks for regions (CHW floats, raw pixel
// values: the model's own normalization is applied natively).
BufferedImage image = ImageIO.read(imageFile.toFile())
assert image != null : "cannot read ${imageFile}"
def raster = image.raster
def reader = new RegionReader() {
    int width() { image.width }
    int height() { image.height }
    int channels() { raster.numBands }
    void read(int x, int y, int w, int h, FloatBuffer dest) {
        float[] band = new float[w * h]
        for (int c = 0; c < raster.numBands; c++) {
            dest.put(raster.getSamples(x, y, w, h, c, band))
        }
    }
}

def applyOptions = ApplyOptions.builder()
        .tileSize(256).overlap(64).blend(ApplyOptions.Blend.GAUSSIAN)
        .truthMask(truth)
        .objects(ObjectOptions.defaults())
        .progressListener({ done, total -> if (done == total) println "  ${total} tiles" } as ApplyOptions.ProgressListener)
        .build()
Predictor predictor = Predictor.open(trained.modelDir())
try {
    println "Applying ${predictor.info().name()} to ${imageFile} (${image.width}x${image.height})"
    ApplyResult result = predictor.apply(reader, out.resolve('result'), applyOptions)
    result.classes().each { printf('  %-12s %5.1f%% of the image%n', it.name(), 100 * it.fraction()) }
    result.agreement().ifPresent { printf('Against the ground truth: pixel accuracy %.3f, mean IoU %.3f%n', it.pixelAccuracy(), it.meanIoU()) }
    assert result.files().any { it.fileName.toString() == 'overlay.png' } : 'no overlay written'
    def objects = result.objects()
    println "  ${objects.size()} objects, mean area ${objects ? objects.sum { it.measurement('Area px^2') } / objects.size() : 0} px^2"

    // One summary of the run next to the results, for reports and CI.
    def metrics = out.resolve('metrics.json')
    metrics.toFile().text = JsonOutput.prettyPrint(JsonOutput.toJson([
            model         : trained.modelDir().toString(),
            status        : trained.status().toString(),
            tile_size     : trained.model().tileSize(),
            plan          : trained.plan().collect { [setting: it.setting(), value: it.value(), chosen: it.chosen()] },
            best_epoch    : [epoch: best.epoch(), mean_iou: best.meanIoU(), pixel_accuracy: best.pixelAccuracy()],
            image         : imageFile.toString(),
            tiles         : result.tiles(),
            seconds       : result.seconds(),
            class_fraction: result.classes().collectEntries { [(it.name()): it.fraction()] },
            objects       : result.objectSummary().map { it.perClass() }.orElse(null),
            truth         : result.agreement().map { [pixel_accuracy: it.pixelAccuracy(), mean_iou: it.meanIoU(),
                                                      per_class_iou: it.perClassIoU() as List] }.orElse(null),
    ])) + '\n'
    (result.files() + [metrics]).each { println "  wrote ${it}" }
} finally {
    predictor.close()
}
