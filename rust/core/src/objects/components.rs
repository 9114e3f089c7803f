//! Connected components of a label image that arrives row by row.
//!
//! Each row is cut into runs of equal labels; a run joins the components of
//! the runs above it with the same label that share at least one column
//! (4-connectivity), merging them when it touches several. A component is
//! finished, and handed out, as soon as a row passes without touching it,
//! so memory holds only the components that reach the current row, never
//! the image. Objects that cross tile seams are one component because the
//! rows are those of the stitched prediction.

/// Pixels `x0 .. x1` of row `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Run {
    pub y: u32,
    pub x0: u32,
    pub x1: u32,
}

impl Run {
    pub fn len(&self) -> u32 {
        self.x1 - self.x0
    }
}

/// The column ranges of `a` that `b` does not cover (both sorted and disjoint).
pub fn uncovered(a: &[Run], b: &[Run]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut j = 0;
    for r in a {
        let (mut start, end) = (r.x0, r.x1);
        while j < b.len() && b[j].x1 <= start {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].x0 < end {
            if b[k].x0 > start {
                out.push((start, b[k].x0));
            }
            start = start.max(b[k].x1);
            k += 1;
        }
        if start < end {
            out.push((start, end));
        }
    }
    out
}

/// What a component gathers from its pixels as they stream by; two
/// partial components that turn out to be one are merged.
pub trait Accumulator: Default {
    fn merge(&mut self, other: Self);
}

/// A finished component: its label, its runs in row order, and what it gathered.
#[derive(Debug)]
pub struct Component<A> {
    pub label: u32,
    pub runs: Vec<Run>,
    pub data: A,
}

struct Open<A> {
    component: Component<A>,
    last_row: u32,
}

/// A run of the previous or current row and the component it belongs to.
#[derive(Clone, Copy)]
struct Labeled {
    x0: u32,
    x1: u32,
    label: u32,
    id: usize,
}

/// Streaming connected-component labelling over rows of `u32` labels.
pub struct Components<A> {
    /// Open components by id; `None` once merged away or finished.
    open: Vec<Option<Open<A>>>,
    /// Union-find parents, valid within one row.
    parent: Vec<usize>,
    free: Vec<usize>,
    /// Ids merged away or finished in this row, free after it.
    released: Vec<usize>,
    previous: Vec<Labeled>,
    next_row: u32,
}

impl<A: Accumulator> Default for Components<A> {
    fn default() -> Self {
        Components { open: Vec::new(), parent: Vec::new(), free: Vec::new(), released: Vec::new(), previous: Vec::new(), next_row: 0 }
    }
}

impl<A: Accumulator> Components<A> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next row. `traced(label)` says which labels form objects;
    /// `gather(data, label, run)` adds a run's pixels to its component's data.
    /// Components finished by this row go to `done`.
    pub fn push_row(
        &mut self,
        labels: &[u32],
        traced: impl Fn(u32) -> bool,
        mut gather: impl FnMut(&mut A, u32, Run),
        done: &mut impl FnMut(Component<A>),
    ) {
        let y = self.next_row;
        self.next_row += 1;
        let mut current = Vec::with_capacity(self.previous.len() + 4);
        let mut above = 0;
        let mut x = 0;
        while x < labels.len() {
            let label = labels[x];
            let start = x;
            while x < labels.len() && labels[x] == label {
                x += 1;
            }
            if !traced(label) {
                continue;
            }
            let (x0, x1) = (start as u32, x as u32);
            while above < self.previous.len() && self.previous[above].x1 <= x0 {
                above += 1;
            }
            let mut id = None;
            let mut k = above;
            while k < self.previous.len() && self.previous[k].x0 < x1 {
                let prev = self.previous[k];
                k += 1;
                if prev.label == label {
                    let root = self.find(prev.id);
                    id = Some(match id {
                        None => root,
                        Some(a) => self.union(a, root),
                    });
                }
            }
            let id = id.unwrap_or_else(|| self.create(label));
            current.push(Labeled { x0, x1, label, id });
        }
        for run in &mut current {
            run.id = self.find(run.id);
            let open = self.open[run.id].as_mut().expect("roots are open");
            open.last_row = y;
            let r = Run { y, x0: run.x0, x1: run.x1 };
            open.component.runs.push(r);
            gather(&mut open.component.data, run.label, r);
        }
        let previous = std::mem::replace(&mut self.previous, current);
        for prev in previous {
            let root = self.find(prev.id);
            if self.open[root].as_ref().is_some_and(|o| o.last_row < y) {
                self.finish(root, done);
            }
        }
        self.reset_parents();
    }

    /// Hands out every component still open: call after the last row.
    pub fn finish_all(&mut self, done: &mut impl FnMut(Component<A>)) {
        for prev in std::mem::take(&mut self.previous) {
            let root = self.find(prev.id);
            if self.open[root].is_some() {
                self.finish(root, done);
            }
        }
        self.reset_parents();
    }

    /// Components still open.
    pub fn open_count(&self) -> usize {
        self.open.iter().filter(|o| o.is_some()).count()
    }

    fn create(&mut self, label: u32) -> usize {
        let open = Open { component: Component { label, runs: Vec::new(), data: A::default() }, last_row: 0 };
        match self.free.pop() {
            Some(id) => {
                self.open[id] = Some(open);
                self.parent[id] = id;
                id
            }
            None => {
                self.open.push(Some(open));
                self.parent.push(self.parent.len());
                self.parent.len() - 1
            }
        }
    }

    fn find(&mut self, mut id: usize) -> usize {
        while self.parent[id] != id {
            self.parent[id] = self.parent[self.parent[id]];
            id = self.parent[id];
        }
        id
    }

    /// Merges two roots, the one with fewer runs into the other; returns the new root.
    fn union(&mut self, a: usize, b: usize) -> usize {
        if a == b {
            return a;
        }
        let size = |s: &Self, i: usize| s.open[i].as_ref().map_or(0, |o| o.component.runs.len());
        let (keep, gone) = if size(self, a) >= size(self, b) { (a, b) } else { (b, a) };
        let gone_open = self.open[gone].take().expect("roots are open");
        let kept = self.open[keep].as_mut().expect("roots are open");
        kept.component.runs.extend(gone_open.component.runs);
        kept.component.data.merge(gone_open.component.data);
        kept.last_row = kept.last_row.max(gone_open.last_row);
        self.parent[gone] = keep;
        self.released.push(gone);
        keep
    }

    fn finish(&mut self, id: usize, done: &mut impl FnMut(Component<A>)) {
        let mut component = self.open[id].take().expect("finished once").component;
        self.released.push(id);
        component.runs.sort_unstable();
        done(component);
    }

    /// After a row every live run points at its root, so the ids merged
    /// away or finished can be reused.
    fn reset_parents(&mut self) {
        for id in self.released.drain(..) {
            self.parent[id] = id;
            self.free.push(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncovered_ranges_are_what_the_other_row_misses() {
        let row = [Run { y: 0, x0: 0, x1: 10 }];
        assert_eq!(uncovered(&row, &[Run { y: 1, x0: 2, x1: 4 }, Run { y: 1, x0: 6, x1: 12 }]), [(0, 2), (4, 6)]);
    }
}
