//! The values a party holds in its registers, and the shape operations that work the same on
//! plaintext and on each component of a share.

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};

pub use crate::protocol::Shares;

/// A register's value at one party.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `fixed` and `float` plaintext (public, or a party's own).
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
    Bool(ArrayD<bool>),
    /// This party's shares of a secret value (a placement over Z_2^64).
    Shares(Shares),
    /// This party's shares of a secret value at a placement with `ring = 128`.
    Shares128(Shares<u128>),
}

impl Value {
    pub fn shape(&self) -> &[usize] {
        match self {
            Value::F64(t) => t.shape(),
            Value::I64(t) => t.shape(),
            Value::Bool(t) => t.shape(),
            Value::Shares(r) => r.shape(),
            Value::Shares128(r) => r.shape(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Value::F64(_) => "f64",
            Value::I64(_) => "i64",
            Value::Bool(_) => "bool",
            Value::Shares(_) => "shares",
            Value::Shares128(_) => "128-bit shares",
        }
    }

    /// A scalar integer (a loop bound, an index, a size).
    pub fn as_index(&self) -> Result<i64, String> {
        match self {
            Value::I64(t) if t.ndim() == 0 => Ok(t[IxDyn(&[])]),
            other => Err(format!(
                "expected an integer scalar, found {} of shape {:?}",
                other.kind(),
                other.shape()
            )),
        }
    }

    pub fn as_bool(&self) -> Result<bool, String> {
        match self {
            Value::Bool(t) if t.ndim() == 0 => Ok(t[IxDyn(&[])]),
            other => Err(format!(
                "expected a bool scalar, found {} of shape {:?}",
                other.kind(),
                other.shape()
            )),
        }
    }
}

pub fn scalar<T: Clone>(v: T) -> ArrayD<T> {
    ArrayD::from_elem(IxDyn(&[]), v)
}

/// `sum` over one axis (or all) with a given addition.
pub fn sum<T: Clone + Default>(
    x: &ArrayD<T>,
    axis: Option<usize>,
    add: impl Fn(T, T) -> T + Copy,
) -> Result<ArrayD<T>, String> {
    match axis {
        Some(k) if k < x.ndim() => {
            Ok(x.fold_axis(Axis(k), T::default(), |acc, v| add(acc.clone(), v.clone())))
        }
        Some(k) => Err(format!(
            "sum over axis {k} of a tensor of rank {}",
            x.ndim()
        )),
        None => Ok(scalar(
            x.iter().fold(T::default(), |acc, v| add(acc, v.clone())),
        )),
    }
}

/// Reduces along `axis` (which disappears) or over all elements with `f`; the tensor must not
/// be empty along it.
pub fn reduce<T: Clone>(
    x: &ArrayD<T>,
    axis: Option<usize>,
    f: impl Fn(T, T) -> T + Copy,
) -> Result<ArrayD<T>, String> {
    match axis {
        Some(k) if k < x.ndim() && x.shape()[k] > 0 => Ok(x.map_axis(Axis(k), |lane| {
            lane.iter().cloned().reduce(f).expect("a non-empty lane")
        })),
        Some(k) => Err(format!(
            "reducing axis {k} of a tensor of shape {:?}",
            x.shape()
        )),
        None => x
            .iter()
            .cloned()
            .reduce(f)
            .map(scalar)
            .ok_or_else(|| "the maximum of an empty tensor".to_string()),
    }
}

pub fn transpose<T: Copy>(x: &ArrayD<T>) -> ArrayD<T> {
    in_order(x.t())
}

/// A view's elements in row-major order, as a new array. ndarray's own copy of a strided view
/// walks it element by element with a dynamic-rank index, several nanoseconds an element: a
/// tenth of a convolutional network's training went to that (its transposes and slices). Here a
/// transposed matrix is copied in cache-sized tiles and a view whose rows are contiguous row by
/// row; anything else element by element as before.
pub fn in_order<T: Copy>(v: ArrayViewD<'_, T>) -> ArrayD<T> {
    let shape = IxDyn(v.shape());
    let data: Vec<T> = if let Some(s) = v.as_slice() {
        s.to_vec()
    } else if let (2, Some(s)) = (v.ndim(), v.t().as_slice()) {
        // The transpose of a matrix laid out in order: `s` holds it column by column.
        let (rows, cols) = (v.shape()[0], v.shape()[1]);
        transposed(s, cols, rows)
    } else if v.ndim() > 0 && v.strides()[v.ndim() - 1] == 1 {
        let mut out = Vec::with_capacity(v.len());
        for row in v.rows() {
            out.extend_from_slice(row.as_slice().expect("unit stride"));
        }
        out
    } else {
        // A fixed rank's iterator steps with a few additions where the dynamic rank's indexes
        // a heap-allocated index per element (a column of a matrix, for one).
        match v.ndim() {
            1 => fixed::<T, ndarray::Ix1>(v),
            2 => fixed::<T, ndarray::Ix2>(v),
            3 => fixed::<T, ndarray::Ix3>(v),
            4 => fixed::<T, ndarray::Ix4>(v),
            _ => v.iter().copied().collect(),
        }
    };
    ArrayD::from_shape_vec(shape, data).expect("the view's own shape")
}

/// A view's elements in logical order, iterated at the fixed rank `D` (its own rank).
fn fixed<T: Copy, D: ndarray::Dimension>(v: ArrayViewD<'_, T>) -> Vec<T> {
    v.into_dimensionality::<D>()
        .expect("the view's rank")
        .iter()
        .copied()
        .collect()
}

/// The transpose of the row-major `rows × cols` matrix `src`, in tiles of 16 × 16 so that both
/// the reads and the writes stay in cache.
fn transposed<T: Copy>(src: &[T], rows: usize, cols: usize) -> Vec<T> {
    const TILE: usize = 16;
    let Some(&first) = src.first() else {
        return Vec::new();
    };
    let mut out = vec![first; rows * cols];
    for i0 in (0..rows).step_by(TILE) {
        for j0 in (0..cols).step_by(TILE) {
            for i in i0..(i0 + TILE).min(rows) {
                let row = &src[i * cols..(i + 1) * cols];
                for j in j0..(j0 + TILE).min(cols) {
                    out[j * rows + i] = row[j];
                }
            }
        }
    }
    out
}

/// The geometry shared by [`im2col`] and [`col2im`]: for `n` images, calls `f(row, pixel, col)`
/// for every window position inside the image (not in the padding), where `row` is the window's
/// row of the im2col matrix, `pixel` the offset of the pixel's first channel in the images'
/// flattened data `[n, h · w · c]`, and `col` the offset of the position's first channel in the
/// window's row (`(ky · kw + kx) · c`).
fn for_each_window_pixel(n: usize, g: &tfe_ir::Window, mut f: impl FnMut(usize, usize, usize)) {
    let (oh, ow) = g.out();
    let mut row = 0;
    for image in 0..n {
        let base = image * g.h * g.w * g.c;
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..g.kh {
                    let y = (oy * g.stride + ky) as isize - g.pad as isize;
                    if y < 0 || y >= g.h as isize {
                        continue;
                    }
                    for kx in 0..g.kw {
                        let x = (ox * g.stride + kx) as isize - g.pad as isize;
                        if x < 0 || x >= g.w as isize {
                            continue;
                        }
                        let pixel = base + (y as usize * g.w + x as usize) * g.c;
                        f(row, pixel, (ky * g.kw + kx) * g.c);
                    }
                }
                row += 1;
            }
        }
    }
}

/// `im2col` (see [`tfe_ir::Window`]): `x` is `[n, h · w · c]`; the result is
/// `[n · oh · ow, kh · kw · c]`, zeros where a window reaches into the padding.
pub fn im2col<T: Clone + Default>(x: &ArrayD<T>, g: &tfe_ir::Window) -> Result<ArrayD<T>, String> {
    let per_image = g.h * g.w * g.c;
    if x.ndim() != 2 || x.shape()[1] != per_image {
        return Err(format!(
            "im2col of shape {:?}: each row must hold one {}×{}×{} image ({per_image} values)",
            x.shape(),
            g.h,
            g.w,
            g.c
        ));
    }
    let n = x.shape()[0];
    let (oh, ow) = g.out();
    let cols = g.kh * g.kw * g.c;
    let src = x.as_standard_layout();
    let src = src.as_slice().expect("standard layout");
    let mut out = vec![T::default(); n * oh * ow * cols];
    for_each_window_pixel(n, g, |row, pixel, col| {
        out[row * cols + col..row * cols + col + g.c].clone_from_slice(&src[pixel..pixel + g.c]);
    });
    Ok(ArrayD::from_shape_vec(IxDyn(&[n * oh * ow, cols]), out).expect("sizes computed above"))
}

/// `col2im`, the adjoint of [`im2col`]: `cols` is `[n · oh · ow, kh · kw · c]`; the result is
/// `[n, h · w · c]`, each pixel the sum (by `add`) of every window entry that covers it, and
/// entries in the padding dropped. The backward pass of a convolution with respect to its input.
pub fn col2im<T: Copy + Default>(
    cols: &ArrayD<T>,
    g: &tfe_ir::Window,
    add: impl Fn(T, T) -> T,
) -> Result<ArrayD<T>, String> {
    let (oh, ow) = g.out();
    let width = g.kh * g.kw * g.c;
    if cols.ndim() != 2 || cols.shape()[1] != width || !cols.shape()[0].is_multiple_of(oh * ow) {
        return Err(format!(
            "col2im of shape {:?}: {}×{}×{} windows of {}×{}×{} images need rows of {width} values, \
             {} rows per image",
            cols.shape(),
            g.kh,
            g.kw,
            g.c,
            g.h,
            g.w,
            g.c,
            oh * ow
        ));
    }
    let n = cols.shape()[0] / (oh * ow);
    let per_image = g.h * g.w * g.c;
    let src = cols.as_standard_layout();
    let src = src.as_slice().expect("standard layout");
    let mut out = vec![T::default(); n * per_image];
    for_each_window_pixel(n, g, |row, pixel, col| {
        for ch in 0..g.c {
            out[pixel + ch] = add(out[pixel + ch], src[row * width + col + ch]);
        }
    });
    Ok(ArrayD::from_shape_vec(IxDyn(&[n, per_image]), out).expect("sizes computed above"))
}

pub fn reshape<T: Copy>(x: &ArrayD<T>, sizes: &[usize]) -> Result<ArrayD<T>, String> {
    let n: usize = sizes.iter().product();
    if n != x.len() {
        return Err(format!(
            "reshape of {} elements (shape {:?}) into {sizes:?}",
            x.len(),
            x.shape()
        ));
    }
    let data: Vec<T> = match x.as_slice() {
        Some(s) => s.to_vec(),
        None => in_order(x.view()).into_raw_vec_and_offset().0,
    };
    Ok(ArrayD::from_shape_vec(IxDyn(sizes), data).expect("same number of elements"))
}

pub fn concat<T: Clone>(parts: &[&ArrayD<T>], axis: usize) -> Result<ArrayD<T>, String> {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::concatenate(Axis(axis), &views).map_err(|e| {
        let shapes: Vec<&[usize]> = parts.iter().map(|p| p.shape()).collect();
        format!("concat of shapes {shapes:?} along axis {axis}: {e}")
    })
}

/// One position of an index: a single position, or a half-open range.
#[derive(Debug, Clone, Copy)]
pub enum Pick {
    One(i64),
    Range(i64, i64),
}

pub fn index<T: Copy>(x: &ArrayD<T>, picks: &[Pick]) -> Result<ArrayD<T>, String> {
    let mut view = x.view();
    let mut axis = 0;
    for pick in picks {
        let size = view
            .shape()
            .get(axis)
            .copied()
            .ok_or_else(|| format!("too many indices for shape {:?}", x.shape()))?
            as i64;
        match *pick {
            Pick::One(i) => {
                if i < 0 || i >= size {
                    return Err(format!(
                        "index {i} is out of range for a dimension of size {size}"
                    ));
                }
                view = view.index_axis_move(Axis(axis), i as usize);
            }
            Pick::Range(a, b) => {
                if a < 0 || b < a || b > size {
                    return Err(format!(
                        "slice {a} .. {b} is out of range for a dimension of size {size}"
                    ));
                }
                view.slice_axis_inplace(Axis(axis), Slice::from(a as usize..b as usize));
                axis += 1;
            }
        }
    }
    Ok(in_order(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_slice_and_shape_ops() {
        let x = ArrayD::from_shape_vec(IxDyn(&[4, 3]), (0..12).collect::<Vec<i64>>()).unwrap();
        let rows = index(&x, &[Pick::Range(1, 3)]).unwrap();
        assert_eq!(rows.shape(), &[2, 3]);
        assert_eq!(rows.as_slice().unwrap(), &[3, 4, 5, 6, 7, 8]);
        let one = index(&x, &[Pick::One(2), Pick::Range(0, 2)]).unwrap();
        assert_eq!(one.as_slice().unwrap(), &[6, 7]);
        assert!(index(&x, &[Pick::Range(2, 5)]).is_err());
        assert_eq!(
            sum(&x, Some(0), |a, b| a + b).unwrap().as_slice().unwrap(),
            &[18, 22, 26]
        );
        assert_eq!(transpose(&x).shape(), &[3, 4]);
        assert_eq!(reshape(&x, &[2, 6]).unwrap().shape(), &[2, 6]);
        assert_eq!(concat(&[&x, &x], 0).unwrap().shape(), &[8, 3]);
    }
}

#[cfg(test)]
mod im2col_tests {
    /// col2im is the adjoint of im2col: <im2col(x), y> = <x, col2im(y)> for every geometry.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        use ndarray::{ArrayD, IxDyn};
        for (h, w, c, kh, kw, stride, pad) in [
            (4, 4, 1, 2, 2, 2, 0),
            (5, 4, 2, 3, 3, 1, 1),
            (6, 6, 3, 3, 2, 2, 1),
            (7, 5, 1, 5, 5, 2, 2),
        ] {
            let g = tfe_ir::Window {
                h,
                w,
                c,
                kh,
                kw,
                stride,
                pad,
            };
            let n = 2;
            let x = ArrayD::from_shape_fn(IxDyn(&[n, h * w * c]), |i| {
                ((i[0] * 31 + i[1] * 7) % 13) as i64 - 6
            });
            let cols = super::im2col(&x, &g).unwrap();
            let y = ArrayD::from_shape_fn(IxDyn(cols.shape()), |i| {
                ((i[0] * 5 + i[1] * 11) % 17) as i64 - 8
            });
            let back = super::col2im(&y, &g, |a, b| a + b).unwrap();
            assert_eq!(back.shape(), x.shape());
            let lhs: i64 = cols.iter().zip(y.iter()).map(|(a, b)| a * b).sum();
            let rhs: i64 = x.iter().zip(back.iter()).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rhs, "{g:?}");
        }
    }

    use super::*;

    /// One 3×3 image with 2 channels (values 10·pixel + channel), 2×2 windows, stride 1, padding
    /// 1: 4×4 window positions, each row (ky, kx, channel)-ordered, zeros in the padding.
    #[test]
    fn windows_with_padding_and_stride() {
        let x: Vec<i64> = (0..9).flat_map(|p| [10 * p, 10 * p + 1]).collect();
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 18]), x).unwrap();
        let g = tfe_ir::Window {
            h: 3,
            w: 3,
            c: 2,
            kh: 2,
            kw: 2,
            stride: 1,
            pad: 1,
        };
        let out = im2col(&x, &g).unwrap();
        assert_eq!(out.shape(), &[16, 8]);
        // Window (0, 0) covers padding except its last pixel, (0, 0) of the image.
        assert_eq!(
            out.index_axis(Axis(0), 0)
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![0, 0, 0, 0, 0, 0, 0, 1]
        );
        // Window (1, 1) covers pixels (0,0), (0,1), (1,0), (1,1).
        assert_eq!(
            out.index_axis(Axis(0), 5)
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![0, 1, 10, 11, 30, 31, 40, 41]
        );
        let g2 = tfe_ir::Window {
            stride: 2,
            pad: 0,
            ..g
        };
        let out = im2col(&x, &g2).unwrap();
        assert_eq!(out.shape(), &[1, 8]);
        assert!(im2col(&ArrayD::<i64>::zeros(IxDyn(&[2, 17])), &g).is_err());
    }
}

#[cfg(test)]
mod in_order_tests {
    use super::*;

    proptest::proptest! {
        /// Every path of `in_order` (in order, a transposed matrix, contiguous rows, strided)
        /// gives ndarray's own row-major copy.
        #[test]
        fn in_order_copies_any_view_as_ndarray_does(
            a in 1usize..40, b in 1usize..40, c in 1usize..5,
            from in 0usize..40, step in 1usize..3, pick in 0usize..5,
        ) {
            let x = ArrayD::from_shape_fn(IxDyn(&[a, b, c]), |i| (i[0] * 10_000 + i[1] * 100 + i[2]) as u64);
            let from = from % a;
            let views = [
                x.view(),
                x.slice_axis(Axis(0), Slice::new(from as isize, None, step as isize)),
                x.slice_axis(Axis(1), Slice::new(0, None, step as isize)),
                x.slice_axis(Axis(2), Slice::from(0..1)),
                x.index_axis(Axis(2), pick % c),
                x.index_axis(Axis(2), pick % c).reversed_axes(),
                x.index_axis(Axis(1), pick % b),
                x.index_axis(Axis(0), from).reversed_axes(),
                x.index_axis(Axis(2), pick % c).index_axis_move(Axis(1), pick % b),
                x.slice_axis(Axis(2), Slice::new(0, None, 2)),
                x.view().permuted_axes(IxDyn(&[2, 0, 1])),
                x.view().insert_axis(Axis(3)).permuted_axes(IxDyn(&[3, 2, 1, 0])),
            ];
            for v in views {
                let want = v.as_standard_layout().into_owned();
                let got = in_order(v.clone());
                proptest::prop_assert_eq!(&got, &want);
                proptest::prop_assert!(got.is_standard_layout());
            }
            let m = x.index_axis(Axis(2), 0).to_owned();
            proptest::prop_assert_eq!(transpose(&m), m.t().as_standard_layout().into_owned());
        }
    }
}
