//! The outline of a 4-connected set of pixels, given as its runs, as a
//! polygon with holes along the pixel edges.
//!
//! Every pixel edge between the set and the outside becomes a directed edge
//! with the set on its left (so outer rings run counter-clockwise by the
//! numbers); the edges are linked end to start. Where two pixels of the set
//! touch only at a corner, the walk turns left, keeping them apart as
//! 4-connectivity says; a walk that comes back to a corner it passed is cut
//! there, so every ring is simple and a set pinched at a corner becomes a
//! shell with a hole touching it, which is a valid polygon.

use super::components::{uncovered, Run};
use crate::geometry::{signed_area, Polygon, Ring};
use std::collections::HashMap;

/// A pixel corner `(x, y)`; 32 bits keep the edges of huge objects small.
type Vertex = (i32, i32);

/// The polygon of the pixels in `runs` (sorted by row, then column, and
/// 4-connected). Coordinates are pixel corners.
pub fn polygon(runs: &[Run]) -> Polygon {
    let edges = edges(runs);
    // Edges by start corner (row, then column): at most two leave a corner.
    let key = |i: u32| (edges[i as usize].0 .1, edges[i as usize].0 .0);
    let mut order: Vec<u32> = (0..edges.len() as u32).collect();
    order.sort_unstable_by_key(|&i| key(i));
    let outgoing = |v: Vertex| -> [usize; 2] {
        let at = order.partition_point(|&i| key(i) < (v.1, v.0));
        let leaving = |j: usize| order.get(j).filter(|&&i| edges[i as usize].0 == v).map_or(usize::MAX, |&i| i as usize);
        [leaving(at), leaving(at + 1)]
    };
    let mut used = vec![false; edges.len()];
    let mut exterior = None;
    let mut holes = Vec::new();
    let mut keep = |ring: Ring| {
        if signed_area(&ring) > 0.0 {
            debug_assert!(exterior.is_none(), "a 4-connected set has one outer ring");
            exterior = Some(ring);
        } else {
            holes.push(ring);
        }
    };
    for first in 0..edges.len() {
        if used[first] {
            continue;
        }
        let mut path: Vec<Vertex> = vec![edges[first].0];
        // Where the walk passed the corners it can come back to: its start,
        // and corners where two edges leave (one edge in and out elsewhere).
        let mut seen: HashMap<Vertex, usize> = HashMap::from([(edges[first].0, 0)]);
        let mut edge = first;
        loop {
            used[edge] = true;
            let (from, to) = edges[edge];
            let candidates = outgoing(to);
            let junction = candidates[1] != usize::MAX;
            let passed = if junction || to == path[0] { seen.get(&to).copied() } else { None };
            if let Some(at) = passed {
                let mut ring: Vec<Vertex> = path.drain(at + 1..).collect();
                ring.insert(0, path[at]);
                ring.push(to);
                for v in &ring[1..ring.len() - 1] {
                    seen.remove(v);
                }
                keep(simplify_collinear(&ring));
            } else {
                if junction {
                    seen.insert(to, path.len());
                }
                path.push(to);
            }
            let free = |i: usize| i != usize::MAX && !used[i];
            edge = match (free(candidates[0]), free(candidates[1])) {
                (true, true) => left_turn(from, to, &edges, candidates),
                (true, false) => candidates[0],
                (false, true) => candidates[1],
                (false, false) => break,
            };
        }
    }
    Polygon { exterior: exterior.unwrap_or_default(), holes }
}

/// At a corner where two edges leave, the one that turns left.
fn left_turn(from: Vertex, at: Vertex, edges: &[(Vertex, Vertex)], candidates: [usize; 2]) -> usize {
    let d = (at.0 - from.0, at.1 - from.1);
    let left = (-d.1.signum(), d.0.signum());
    let dir = |i: usize| {
        let (a, b) = edges[i];
        ((b.0 - a.0).signum(), (b.1 - a.1).signum())
    };
    if dir(candidates[0]) == left {
        candidates[0]
    } else {
        candidates[1]
    }
}

/// The boundary edges of the runs, each `(start, end)` with the pixels on its left.
fn edges(runs: &[Run]) -> Vec<(Vertex, Vertex)> {
    let mut edges = Vec::with_capacity(runs.len() * 4);
    let rows = rows(runs);
    let empty: &[Run] = &[];
    for (i, row) in rows.iter().enumerate() {
        let y = row[0].y as i32;
        let above = if i > 0 && rows[i - 1][0].y as i32 == y - 1 { rows[i - 1] } else { empty };
        // Line y: starts of pixels in row y without a pixel above run +x;
        // ends of pixels above without one below run -x.
        for (a, b) in uncovered(row, above) {
            edges.push(((a as i32, y), (b as i32, y)));
        }
        for (a, b) in uncovered(above, row) {
            edges.push(((b as i32, y), (a as i32, y)));
        }
        for r in row.iter() {
            let (x0, x1) = (r.x0 as i32, r.x1 as i32);
            edges.push(((x0, y + 1), (x0, y)));
            edges.push(((x1, y), (x1, y + 1)));
        }
        let below_follows = rows.get(i + 1).is_some_and(|next| next[0].y as i32 == y + 1);
        if !below_follows {
            for r in row.iter() {
                edges.push(((r.x1 as i32, y + 1), (r.x0 as i32, y + 1)));
            }
        }
    }
    edges
}

/// The runs grouped by row.
fn rows(runs: &[Run]) -> Vec<&[Run]> {
    runs.chunk_by(|a, b| a.y == b.y).collect()
}

/// A closed ring without the corners that lie on a straight line, as floats.
fn simplify_collinear(ring: &[Vertex]) -> Ring {
    let n = ring.len() - 1;
    let straight = |i: usize| {
        let (p, q, r) = (ring[(i + n - 1) % n], ring[i], ring[(i + 1) % n]);
        (q.0 - p.0) as i64 * (r.1 - q.1) as i64 == (q.1 - p.1) as i64 * (r.0 - q.0) as i64
    };
    let mut out: Ring = (0..n).filter(|&i| !straight(i)).map(|i| [ring[i].0 as f64, ring[i].1 as f64]).collect();
    out.push(out[0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runs of the pixels marked `#`, one string per row.
    fn runs(rows: &[&str]) -> Vec<Run> {
        let mut runs = Vec::new();
        for (y, row) in rows.iter().enumerate() {
            let b = row.as_bytes();
            let mut x = 0;
            while x < b.len() {
                if b[x] == b'#' {
                    let x0 = x;
                    while x < b.len() && b[x] == b'#' {
                        x += 1;
                    }
                    runs.push(Run { y: y as u32, x0: x0 as u32, x1: x as u32 });
                } else {
                    x += 1;
                }
            }
        }
        runs
    }

    #[test]
    fn a_pixel_is_a_counter_clockwise_square() {
        let p = polygon(&runs(&["#"]));
        assert_eq!(p.exterior, [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]);
        assert!(p.holes.is_empty());
    }

    #[test]
    fn a_ring_of_pixels_has_one_clockwise_hole() {
        let p = polygon(&runs(&["###", "#.#", "###"]));
        assert_eq!((signed_area(&p.exterior), p.holes.len()), (9.0, 1));
        assert_eq!(signed_area(&p.holes[0]), -1.0);
        assert_eq!(p.area(), 8.0);
    }

    #[test]
    fn a_set_pinched_at_a_corner_is_a_shell_with_a_touching_hole() {
        // The hole's corner (1, 2) is the corner where the two arms touch diagonally.
        let p = polygon(&runs(&["###", "#.#", ".##"]));
        assert_eq!(p.area(), 7.0);
        assert_eq!(p.holes.len(), 1);
        assert_eq!(signed_area(&p.exterior), 8.0);
        assert!(p.exterior.iter().all(|v| v[0] >= 0.0 && v[1] >= 0.0));
    }

    #[test]
    fn staircases_and_combs_keep_their_area() {
        for shape in [
            &["#...", "##..", ".##.", "..##"][..],
            &["#.#.#", "#####", "#.#.#"],
            &["#####", "#...#", "#.###", "#...#", "#####"],
        ] {
            let r = runs(shape);
            let pixels: u32 = r.iter().map(Run::len).sum();
            assert_eq!(polygon(&r).area(), pixels as f64, "{shape:?}");
        }
    }
}
