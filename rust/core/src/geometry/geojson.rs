//! Polygons from GeoJSON: a `Polygon` or `MultiPolygon` geometry, a
//! `Feature` holding one, or a `FeatureCollection` or `GeometryCollection`
//! of them (QuPath exports annotations as such features).

use super::{Point, Polygon, Ring};
use crate::{Error, Result};
use serde_json::Value;

/// Every polygon in `value`.
pub fn parse(value: &Value) -> Result<Vec<Polygon>> {
    let mut polygons = Vec::new();
    collect(value, &mut polygons)?;
    Ok(polygons)
}

fn collect(value: &Value, out: &mut Vec<Polygon>) -> Result<()> {
    let kind = value.get("type").and_then(Value::as_str).ok_or_else(|| error("an object without a \"type\""))?;
    let member = |name: &str| value.get(name).ok_or_else(|| error(&format!("a {kind} without \"{name}\"")));
    match kind {
        "Polygon" => out.push(polygon(member("coordinates")?)?),
        "MultiPolygon" => {
            for p in array(member("coordinates")?, "MultiPolygon coordinates")? {
                out.push(polygon(p)?);
            }
        }
        "Feature" => collect(member("geometry")?, out)?,
        "FeatureCollection" => array(member("features")?, "features")?.iter().try_for_each(|f| collect(f, out))?,
        "GeometryCollection" => array(member("geometries")?, "geometries")?.iter().try_for_each(|g| collect(g, out))?,
        other => return Err(error(&format!("a {other}, where a Polygon or MultiPolygon was expected"))),
    }
    Ok(())
}

fn error(what: &str) -> Error {
    Error::config(format!("GeoJSON: {what}"))
}

fn array<'v>(value: &'v Value, what: &str) -> Result<&'v Vec<Value>> {
    value.as_array().ok_or_else(|| error(&format!("{what} must be an array")))
}

fn polygon(value: &Value) -> Result<Polygon> {
    let mut rings = array(value, "Polygon coordinates")?.iter().map(ring);
    let exterior = rings.next().ok_or_else(|| error("a Polygon without rings"))??;
    Ok(Polygon { exterior, holes: rings.collect::<Result<_>>()? })
}

fn ring(value: &Value) -> Result<Ring> {
    let mut ring = array(value, "a ring")?.iter().map(point).collect::<Result<Ring>>()?;
    if ring.first() != ring.last() {
        ring.push(ring[0]);
    }
    Ok(ring)
}

fn point(value: &Value) -> Result<Point> {
    match array(value, "a position")?.as_slice() {
        [x, y, ..] => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => Ok([x, y]),
            _ => Err(error("a position whose coordinates are not numbers")),
        },
        _ => Err(error("a position with fewer than 2 coordinates")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn features_and_collections_yield_their_polygons() {
        let square = json!([[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]], [[1, 1], [1, 2], [2, 2], [2, 1], [1, 1]]]);
        let feature = json!({"type": "Feature", "properties": {"objectType": "annotation"}, "geometry": {"type": "Polygon", "coordinates": square}});
        let p = parse(&feature).unwrap();
        assert_eq!((p.len(), p[0].holes.len(), p[0].area()), (1, 1, 15.0));
        let multi = json!({"type": "MultiPolygon", "coordinates": [square, [[[9, 9], [10, 9], [10, 10]]]]});
        let collection = json!({"type": "FeatureCollection", "features": [feature, {"type": "Feature", "geometry": multi}]});
        let p = parse(&collection).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[2].exterior.len(), 4, "the open ring is closed");
    }

    #[test]
    fn other_geometries_and_malformed_members_are_refused() {
        let e = |v: Value| parse(&v).unwrap_err().to_string();
        assert!(e(json!({"type": "Point", "coordinates": [1, 2]})).contains("a Point, where a Polygon or MultiPolygon was expected"));
        assert!(e(json!({"coordinates": []})).contains("without a \"type\""));
        assert!(e(json!({"type": "Feature"})).contains("a Feature without \"geometry\""));
        assert!(e(json!({"type": "Polygon", "coordinates": [[[0, "a"]]]})).contains("not numbers"));
        assert!(e(json!({"type": "Polygon", "coordinates": []})).contains("without rings"));
    }
}
