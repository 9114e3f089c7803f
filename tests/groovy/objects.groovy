// From a model folder to classified polygons with measurements. In QuPath each
// becomes a detection: PathObjects.createDetectionObject(ROIs.createPolygonROI(
// o.xs(), o.ys(), plane), getPathClass(o.className())), or via o.wkt() for holes.
//   groovy -cp dlclassifier.jar objects.groovy MODEL_DIR IMAGE_FILE OUT_DIR
import java.nio.file.Paths
import org.dlclassifier.*

def options = ApplyOptions.builder().objects(ObjectOptions.builder().minArea(20).build()).build()
def predictor = Predictor.open(Paths.get(args[0]))
def objects = predictor.apply(Paths.get(args[1]), Paths.get(args[2]), options).objects()
predictor.close()
objects.take(5).each { o ->
    println "${o.className()}: ${o.measurement('Area px^2')} px^2 at (${o.measurement('Centroid X px')}, ${o.measurement('Centroid Y px')}), ${o.exterior().length} corners"
}
println "${objects.size()} objects"
assert objects.size() > 0 && objects.every { it.measurement('Area px^2') >= 20 }
