//! Whether a polygon is valid in the OGC sense that shapely and QuPath's JTS
//! check: rings that do not cross themselves or each other (touching at a
//! point is allowed), exteriors counter-clockwise, holes clockwise and inside
//! the exterior.

use super::{ring_contains, signed_area, Point, Polygon};
use std::collections::HashMap;

/// The first reason `polygon` is not valid, or `None`.
pub fn problem(polygon: &Polygon) -> Option<String> {
    let rings: Vec<&[Point]> = std::iter::once(polygon.exterior.as_slice()).chain(polygon.holes.iter().map(Vec::as_slice)).collect();
    for (i, r) in rings.iter().enumerate() {
        if r.len() < 4 || r.first() != r.last() {
            return Some(format!("ring {i} is not closed with at least 3 corners"));
        }
        if r.iter().any(|p| !p[0].is_finite() || !p[1].is_finite()) {
            return Some(format!("ring {i} has a coordinate that is not a finite number"));
        }
        let area = signed_area(r);
        if (i == 0) != (area > 0.0) || area == 0.0 {
            return Some(format!("ring {i} runs the wrong way or encloses nothing"));
        }
    }
    if let Some(problem) = crossing(&rings) {
        return Some(problem);
    }
    // Rings that do not cross: a hole is inside when the midpoint of its first edge is.
    (1..rings.len())
        .find(|&i| !ring_contains(rings[0], [(rings[i][0][0] + rings[i][1][0]) / 2.0, (rings[i][0][1] + rings[i][1][1]) / 2.0]))
        .map(|i| format!("hole {i} lies outside the exterior"))
}

/// Two segments of the rings that cross, found through a uniform grid so
/// that only segments sharing a cell are compared.
fn crossing(rings: &[&[Point]]) -> Option<String> {
    let segments: Vec<(usize, usize)> = rings.iter().enumerate().flat_map(|(r, ring)| (0..ring.len() - 1).map(move |i| (r, i))).collect();
    let seg = |&(r, i): &(usize, usize)| (rings[r][i], rings[r][i + 1]);
    let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for p in rings.iter().flat_map(|r| r.iter()) {
        (x0, y0, x1, y1) = (x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1]));
    }
    let cell = ((x1 - x0).max(y1 - y0) / (segments.len() as f64).sqrt().max(1.0)).max(1e-9);
    let index = |v: f64, o: f64| ((v - o) / cell).floor() as i64;
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (k, s) in segments.iter().enumerate() {
        let (a, b) = seg(s);
        for gx in index(a[0].min(b[0]), x0)..=index(a[0].max(b[0]), x0) {
            for gy in index(a[1].min(b[1]), y0)..=index(a[1].max(b[1]), y0) {
                grid.entry((gx, gy)).or_default().push(k);
            }
        }
    }
    for members in grid.values() {
        for (n, &i) in members.iter().enumerate() {
            for &j in &members[n + 1..] {
                let (a, b) = (seg(&segments[i]), seg(&segments[j]));
                if cross(a, b) {
                    let ((ra, ia), (rb, ib)) = (segments[i], segments[j]);
                    return Some(format!("segment {ia} of ring {ra} crosses segment {ib} of ring {rb} near ({}, {})", a.0[0], a.0[1]));
                }
            }
        }
    }
    None
}

/// Whether two segments cross at a point inside both (touching ends do not count).
fn cross((a, b): (Point, Point), (c, d): (Point, Point)) -> bool {
    // The side of p-q that r lies on: -1, 0 (on the line) or 1.
    let orient = |p: Point, q: Point, r: Point| {
        let v = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
        (v > 0.0) as i8 - (v < 0.0) as i8
    };
    let (d1, d2, d3, d4) = (orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b));
    d1 * d2 < 0 && d3 * d4 < 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64, side: f64) -> Vec<Point> {
        vec![[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]
    }

    #[test]
    fn crossings_wrong_orientation_and_stray_holes_are_found() {
        let mut hole = square(1.0, 1.0, 1.0);
        hole.reverse();
        assert_eq!(problem(&Polygon { exterior: square(0.0, 0.0, 4.0), holes: vec![hole.clone()] }), None);
        let bowtie = vec![[0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]];
        let e = problem(&Polygon { exterior: bowtie, holes: vec![] }).unwrap();
        assert!(e.contains("wrong way") || e.contains("crosses"), "{e}");
        let mut big_hole = square(3.0, 3.0, 2.0);
        big_hole.reverse();
        let e = problem(&Polygon { exterior: square(0.0, 0.0, 4.0), holes: vec![big_hole] }).unwrap();
        assert!(e.contains("crosses segment"), "{e}");
        let mut outside = square(5.0, 5.0, 1.0);
        outside.reverse();
        assert!(problem(&Polygon { exterior: square(0.0, 0.0, 4.0), holes: vec![outside] }).unwrap().contains("outside the exterior"));
        assert!(problem(&Polygon { exterior: hole, holes: vec![] }).unwrap().contains("wrong way"));
        // A hole touching the exterior at a point is valid.
        let touching = vec![[1.5, 0.0], [1.0, 1.0], [2.0, 1.0], [1.5, 0.0]];
        assert_eq!(problem(&Polygon { exterior: square(0.0, 0.0, 3.0), holes: vec![touching] }), None);
    }
}
