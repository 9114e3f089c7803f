//! Fewer or rounder corners for closed rings: Douglas-Peucker
//! simplification and Chaikin corner cutting. Either can make a ring cross
//! itself or its neighbours; callers check the result.

use super::{Point, Ring};

/// The ring with every corner dropped that lies within `tolerance` of the
/// line its kept neighbours span; the ring's two farthest-apart corners
/// anchor it. Rings that would keep fewer than 3 corners stay as they are.
pub fn douglas_peucker(ring: &[Point], tolerance: f64) -> Ring {
    let n = ring.len().saturating_sub(1);
    if tolerance <= 0.0 || n < 4 {
        return ring.to_vec();
    }
    let far = (1..n).max_by(|&a, &b| dist2(ring[0], ring[a]).total_cmp(&dist2(ring[0], ring[b]))).unwrap_or(1);
    let mut keep = vec![false; n + 1];
    (keep[0], keep[far], keep[n]) = (true, true, true);
    mark(ring, 0, far, tolerance, &mut keep);
    mark(ring, far, n, tolerance, &mut keep);
    let out: Ring = ring.iter().zip(&keep).filter(|(_, &k)| k).map(|(p, _)| *p).collect();
    if out.len() < 4 {
        return ring.to_vec();
    }
    out
}

/// Marks the corners between `a` and `b` that stray more than `tolerance` from segment a-b.
fn mark(ring: &[Point], a: usize, b: usize, tolerance: f64, keep: &mut [bool]) {
    let mut stack = vec![(a, b)];
    while let Some((a, b)) = stack.pop() {
        let Some((i, d)) = (a + 1..b).map(|i| (i, segment_distance(ring[i], ring[a], ring[b]))).max_by(|x, y| x.1.total_cmp(&y.1))
        else {
            continue;
        };
        if d > tolerance {
            keep[i] = true;
            stack.push((a, i));
            stack.push((i, b));
        }
    }
}

fn dist2(a: Point, b: Point) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

fn segment_distance(p: Point, a: Point, b: Point) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 { 0.0 } else { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0) };
    dist2(p, [a[0] + t * dx, a[1] + t * dy]).sqrt()
}

/// `passes` rounds of Chaikin's corner cutting: every edge is replaced by
/// the points at its quarter and three quarters.
pub fn chaikin(ring: &[Point], passes: u32) -> Ring {
    let mut ring = ring.to_vec();
    for _ in 0..passes {
        let n = ring.len() - 1;
        let mut out = Vec::with_capacity(2 * n + 1);
        for w in ring.windows(2) {
            let ([ax, ay], [bx, by]) = (w[0], w[1]);
            out.push([0.75 * ax + 0.25 * bx, 0.75 * ay + 0.25 * by]);
            out.push([0.25 * ax + 0.75 * bx, 0.25 * ay + 0.75 * by]);
        }
        out.push(out[0]);
        ring = out;
    }
    ring
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::signed_area;

    #[test]
    fn a_staircase_simplifies_to_its_diagonal() {
        // A right triangle whose hypotenuse is a staircase of unit steps.
        let mut ring: Ring = vec![[0.0, 0.0], [4.0, 0.0]];
        for i in 0..4 {
            let x = 4.0 - i as f64;
            ring.extend([[x, i as f64 + 1.0], [x - 1.0, i as f64 + 1.0]]);
        }
        ring.push([0.0, 0.0]);
        let simple = douglas_peucker(&ring, 0.75);
        // Anchored at (0, 0) and (1, 4), one of the corners farthest from it.
        assert_eq!(simple, [[0.0, 0.0], [4.0, 0.0], [1.0, 4.0], [0.0, 4.0], [0.0, 0.0]]);
        assert_eq!(signed_area(&simple), 10.0);
        assert_eq!(douglas_peucker(&ring, 0.0), ring);
    }

    #[test]
    fn corner_cutting_rounds_a_square_inside_it() {
        let square = vec![[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]];
        let once = chaikin(&square, 1);
        assert_eq!(once.len(), 9);
        // Each corner loses a right triangle with legs of 1: 16 - 4 * 0.5.
        assert!((signed_area(&once) - 14.0).abs() < 1e-12);
        assert_eq!(chaikin(&square, 0), square);
    }
}
