//! How an activation's elements are laid out in its row.
//!
//! Every activation of the generated program is a matrix with one example per row. ONNX says
//! what each example's tensor is (its dims, in C order); tfe's image layers want images
//! channel-last. Rather than moving data at every layer, each activation records where its
//! elements are: its row holds `transpose(logical, perm)` flattened, where `logical` is the
//! example's tensor under some earlier shape (reshapes and flattens change the ONNX dims but
//! not the row). A transpose in the graph is then only a new `perm`, and a flatten before a
//! dense layer only a permutation of the weights' rows: data moves where a layer needs another
//! layout, through `std::nn::swap_blocks`.

/// The layout of one activation's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// The example's tensor in C order, as ONNX lays it out.
    Plain,
    /// The row holds `transpose(T, perm)` in C order, where T is the example's tensor under
    /// the dims `logical` (which have as many elements as the current dims). Axis k of the
    /// row's tensor is axis `perm[k]` of T.
    Perm {
        logical: Vec<usize>,
        perm: Vec<usize>,
    },
}

impl Layout {
    /// Channel-last images `[c, h, w]`: the layout of tfe's image layers.
    pub fn image(c: usize, h: usize, w: usize) -> Layout {
        Layout::Perm {
            logical: vec![c, h, w],
            perm: vec![1, 2, 0],
        }
        .normalized()
    }

    /// The same layout with axes of size 1 left out, `Plain` when the permutation is then the
    /// identity (`[c, 1, 1]` channel-last is `[c]` in order).
    pub fn normalized(self) -> Layout {
        let Layout::Perm { logical, perm } = self else {
            return self;
        };
        let keep: Vec<usize> = (0..logical.len()).filter(|&a| logical[a] != 1).collect();
        let new_index = |a: usize| keep.iter().position(|&k| k == a);
        let logical2: Vec<usize> = keep.iter().map(|&a| logical[a]).collect();
        let perm2: Vec<usize> = perm.iter().filter_map(|&a| new_index(a)).collect();
        if perm2.iter().enumerate().all(|(i, &a)| i == a) {
            Layout::Plain
        } else {
            Layout::Perm {
                logical: logical2,
                perm: perm2,
            }
        }
    }

    /// Whether an activation of ONNX dims `dims` in this layout is a channel-last image
    /// `[c, h, w]`, the layout of tfe's image layers.
    pub fn is_image(&self, dims: &[usize]) -> bool {
        match dims {
            [c, h, w] => *self == Layout::image(*c, *h, *w),
            _ => false,
        }
    }

    /// For each element of the example's tensor in ONNX's C order, its position in the row.
    pub fn positions(&self, size: usize) -> Vec<usize> {
        match self {
            Layout::Plain => (0..size).collect(),
            Layout::Perm { logical, perm } => {
                let row_dims: Vec<usize> = perm.iter().map(|&a| logical[a]).collect();
                let mut row_strides = vec![1usize; row_dims.len()];
                for k in (0..row_dims.len().saturating_sub(1)).rev() {
                    row_strides[k] = row_strides[k + 1] * row_dims[k + 1];
                }
                // The stride in the row of each logical axis.
                let mut stride_of = vec![0usize; logical.len()];
                for (k, &a) in perm.iter().enumerate() {
                    stride_of[a] = row_strides[k];
                }
                let mut out = Vec::with_capacity(size);
                let mut index = vec![0usize; logical.len()];
                for _ in 0..size {
                    out.push(index.iter().zip(&stride_of).map(|(i, s)| i * s).sum());
                    for a in (0..logical.len()).rev() {
                        index[a] += 1;
                        if index[a] < logical[a] {
                            break;
                        }
                        index[a] = 0;
                    }
                }
                out
            }
        }
    }

    /// The block swaps (`std::nn::swap_blocks(x, outer, a, b, inner)`) that turn a row in this
    /// layout into the plain C order of `logical`. Runs of consecutive logical axes move as one
    /// block, so channel-last images need one swap.
    pub fn swaps_to_plain(&self) -> Vec<[usize; 4]> {
        let Layout::Perm { logical, perm } = self else {
            return Vec::new();
        };
        // Group the row's axes into runs of consecutive logical axes.
        let mut blocks: Vec<Vec<usize>> = Vec::new();
        for &a in perm {
            match blocks.last_mut() {
                Some(b) if *b.last().expect("blocks are not empty") + 1 == a => b.push(a),
                _ => blocks.push(vec![a]),
            }
        }
        let size = |b: &Vec<usize>| b.iter().map(|&a| logical[a]).product::<usize>();
        let mut swaps = Vec::new();
        // Bubble sort of the blocks by their first logical axis; each exchange of neighbours
        // is one swap.
        loop {
            let mut done = true;
            for k in 0..blocks.len().saturating_sub(1) {
                if blocks[k][0] > blocks[k + 1][0] {
                    let outer: usize = blocks[..k].iter().map(size).product();
                    let inner: usize = blocks[k + 2..].iter().map(size).product();
                    swaps.push([outer, size(&blocks[k]), size(&blocks[k + 1]), inner]);
                    blocks.swap(k, k + 1);
                    done = false;
                }
            }
            if done {
                break;
            }
        }
        swaps
    }

    /// The swaps that turn a plain row of `logical` into this layout: those of
    /// [`Layout::swaps_to_plain`] undone, in reverse order.
    pub fn swaps_from_plain(&self) -> Vec<[usize; 4]> {
        let mut swaps = self.swaps_to_plain();
        swaps.reverse();
        for s in &mut swaps {
            s.swap(1, 2);
        }
        swaps
    }

    /// The layout after the example's axes are permuted by ONNX's `Transpose` (without the
    /// batch axis: `q[k]` is the input axis of output axis k), for an activation whose current
    /// dims are `dims`. `None` when a reshape since the last layout change makes the axes
    /// differ from the logical ones (the caller converts to plain first).
    pub fn transposed(&self, dims: &[usize], q: &[usize]) -> Option<Layout> {
        let (logical, perm) = match self {
            Layout::Plain => (dims.to_vec(), (0..dims.len()).collect::<Vec<_>>()),
            Layout::Perm { logical, perm } => (logical.clone(), perm.clone()),
        };
        if logical != dims {
            return None;
        }
        let mut q_inv = vec![0; q.len()];
        for (k, &a) in q.iter().enumerate() {
            q_inv[a] = k;
        }
        let new_logical: Vec<usize> = q.iter().map(|&a| dims[a]).collect();
        let new_perm: Vec<usize> = perm.iter().map(|&a| q_inv[a]).collect();
        Some(
            Layout::Perm {
                logical: new_logical,
                perm: new_perm,
            }
            .normalized(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies swap_blocks to a row, as std::nn does.
    fn swap(row: &[usize], [outer, a, b, inner]: [usize; 4]) -> Vec<usize> {
        let mut out = Vec::with_capacity(row.len());
        for o in 0..outer {
            for j in 0..b {
                for i in 0..a {
                    for k in 0..inner {
                        out.push(row[((o * a + i) * b + j) * inner + k]);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn image_positions_and_swaps_agree() {
        let (c, h, w) = (3, 2, 4);
        let layout = Layout::image(c, h, w);
        assert!(layout.is_image(&[c, h, w]));
        let pos = layout.positions(c * h * w);
        // Element (ch, y, x) in NCHW sits at (y * w + x) * c + ch in the row.
        assert_eq!(pos[(2 * h + 1) * w + 3], ((w + 3) * c) + 2);
        // A plain NCHW row, moved into the layout by its swaps, puts every element where
        // `positions` says.
        let plain: Vec<usize> = (0..c * h * w).collect();
        let mut row = plain.clone();
        for s in layout.swaps_from_plain() {
            row = swap(&row, s);
        }
        for (onnx, &p) in pos.iter().enumerate() {
            assert_eq!(row[p], onnx);
        }
        let mut back = row;
        for s in layout.swaps_to_plain() {
            back = swap(&back, s);
        }
        assert_eq!(back, plain);
        assert_eq!(layout.swaps_to_plain(), vec![[1, h * w, c, 1]]);
    }

    #[test]
    fn transposes_compose_and_general_permutations_sort() {
        // NCHW -> NHWC as a graph transpose of a plain image: the row is then channel-first
        // data seen as [h, w, c].
        // T'[y, x, ch] = T[ch, y, x]; the row still holds T in C order.
        let t = Layout::Plain.transposed(&[3, 2, 4], &[1, 2, 0]).unwrap();
        let pos = t.positions(24);
        for (y, x, ch) in [(0, 0, 0), (1, 3, 2), (0, 2, 1)] {
            assert_eq!(pos[(y * 4 + x) * 3 + ch], ch * 8 + y * 4 + x);
        }
        // A channel-last image transposed to NHWC is plain.
        let nhwc = Layout::image(3, 2, 4)
            .transposed(&[3, 2, 4], &[1, 2, 0])
            .unwrap();
        assert_eq!(nhwc, Layout::Plain);
        // An arbitrary permutation of four axes: swaps reproduce positions.
        let l = Layout::Perm {
            logical: vec![2, 3, 4, 5],
            perm: vec![3, 1, 0, 2],
        };
        let n = 120;
        let pos = l.positions(n);
        let mut row: Vec<usize> = (0..n).collect();
        for s in l.swaps_from_plain() {
            row = swap(&row, s);
        }
        for (onnx, &p) in pos.iter().enumerate() {
            assert_eq!(row[p], onnx);
        }
        assert_eq!(Layout::image(5, 1, 1), Layout::Plain);
    }
}
