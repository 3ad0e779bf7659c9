//! Each operator's translation: a layer of the program, a constant computed at import time,
//! a parameter folded into the layer before, or a new layout of the same row.

use crate::ImportError;
use crate::graph::{Attr, Data, Int, Node, Tensor};
use crate::layout::Layout;
use crate::translate::{
    Act, Affine, AffineKind, Translation, Val, dims_text, display_name, int_values, known_ints,
    literal,
};

/// An elementwise binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

impl Translation<'_> {
    /// Translates one node.
    pub fn node(&mut self, node: &Node) -> Result<(), ImportError> {
        // Constants in, constant out: computed now (shapes, parameters of parameters).
        if self.all_constant(node) {
            return self.fold_constant(node);
        }
        match (node.domain.as_str(), node.op.as_str()) {
            ("", "Gemm") => self.gemm(node),
            ("", "MatMul") => self.matmul(node),
            ("", "Add") => self.arith(node, Arith::Add),
            ("", "Sub") => self.arith(node, Arith::Sub),
            ("", "Mul") => self.arith(node, Arith::Mul),
            ("", "Div") => self.arith(node, Arith::Div),
            ("", "Neg") => self.unary(node, "", |x| format!("-{x}")),
            ("", "Relu") => self.unary(node, "", |x| format!("relu({x})")),
            ("", "Sigmoid") => self.unary(node, "", |x| format!("sigmoid_precise({x})")),
            ("", "Tanh") => self.unary(node, "", |x| format!("tanh({x})")),
            ("", "LeakyRelu") => {
                let alpha = literal(node.float("alpha").unwrap_or(0.01));
                self.unary(node, &format!("alpha {alpha}"), |x| {
                    format!("leaky_relu({x}, alpha: {alpha})")
                })
            }
            ("", "Clip") => self.clip(node),
            ("", "Softmax") => self.softmax(node),
            ("", "Conv") => self.conv(node),
            ("", "MaxPool") => self.pool(node, true),
            ("", "AveragePool") => self.pool(node, false),
            ("", "GlobalAveragePool") => self.global_pool(node, false),
            ("", "GlobalMaxPool") => self.global_pool(node, true),
            ("", "BatchNormalization") => self.batch_norm(node),
            ("", "Flatten") => self.flatten(node),
            ("", "Reshape") => self.reshape(node),
            ("", "Unsqueeze" | "Squeeze") => self.squeeze(node),
            ("", "Transpose") => self.transpose(node),
            ("", "Concat") => self.concat(node),
            ("", "Identity" | "Dropout") => {
                self.only_first_output(node)?;
                let a = self.act(node, 0)?;
                self.set(node, 0, Val::Act(a));
                Ok(())
            }
            ("", "Cast") => {
                let to = node.int("to").unwrap_or(1) as i32;
                if !crate::graph::is_float_type(to) {
                    return Err(self.unsupported(
                        node,
                        format!(
                            "a cast of computed values to {}",
                            crate::graph::elem_type_name(to)
                        ),
                    ));
                }
                let a = self.act(node, 0)?;
                self.set(node, 0, Val::Act(a));
                Ok(())
            }
            ("", "Shape") => self.shape(node),
            ("ai.onnx.ml", "LinearClassifier") => self.linear_classifier(node),
            ("ai.onnx.ml", "LinearRegressor") => self.linear_regressor(node),
            ("ai.onnx.ml", "Normalizer") => self.normalizer(node),
            ("ai.onnx.ml", "Scaler") => self.scaler(node),
            ("ai.onnx.ml", "ZipMap") => {
                // A sequence of maps from class to probability: the same numbers as its input,
                // which is what the client receives.
                let a = self.act(node, 0)?;
                self.set(node, 0, Val::Act(a));
                Ok(())
            }
            _ => Err(self.unsupported(
                node,
                "a computed input where tfe only folds constants".into(),
            )),
        }
    }

    fn all_constant(&self, node: &Node) -> bool {
        if node.op == "Shape" {
            return false;
        }
        node.inputs
            .iter()
            .filter(|s| !s.is_empty())
            .all(|name| matches!(self.values_get(name), Some(Val::Const(_))))
    }

    fn values_get(&self, name: &str) -> Option<&Val> {
        // `value` takes a node; this reads one by name.
        self.lookup(name)
    }

    // ---- Layers ---------------------------------------------------------------------------

    fn unary(
        &mut self,
        node: &Node,
        detail: &str,
        f: impl Fn(&str) -> String,
    ) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        for name in ["relu", "sigmoid_precise", "tanh", "leaky_relu"] {
            if f("x").starts_with(&format!("{name}(")) {
                self.nn.insert(name);
            }
        }
        let y = self.layer(node, detail, f(&x.var), x.dims.clone(), x.layout.clone());
        if node.op == "Relu" {
            self.relu_of
                .insert(y.var.clone(), (self.stmts.len() - 1, x.clone()));
        }
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn gemm(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        if node.int("transA").unwrap_or(0) != 0 {
            return Err(self.unsupported(node, "transA = 1 (it transposes the batch)".into()));
        }
        let b = self.constant(node, 1)?;
        let values = self.floats(node, &b)?;
        let [r, c] = b.dims[..] else {
            return Err(self.bad(node, format!("B has shape {}", dims_text(&b.dims))));
        };
        let trans_b = node.int("transB").unwrap_or(0) != 0;
        let (k, m) = if trans_b { (c, r) } else { (r, c) };
        if x.dims != [k] {
            return Err(self.unsupported(
                node,
                format!(
                    "its input is {} per example; Gemm multiplies vectors of {k}",
                    dims_text(&x.dims)
                ),
            ));
        }
        let alpha = node.float("alpha").unwrap_or(1.0);
        let beta = node.float("beta").unwrap_or(1.0);
        let weight = |i: usize, j: usize| {
            alpha
                * if trans_b {
                    values[j * k + i]
                } else {
                    values[i * m + j]
                }
        };
        let bias = match self.optional(node, 2)? {
            None => None,
            Some(Val::Const(t)) => {
                let t = t.clone();
                Some(
                    self.broadcast(node, &t, &[m])?
                        .into_iter()
                        .map(|v| beta * v)
                        .collect::<Vec<f64>>(),
                )
            }
            Some(Val::Act(_)) => {
                return Err(self.unsupported(node, "a computed C (bias)".into()));
            }
        };
        self.dense_layer(node, &x, k, m, weight, bias, "")
    }

    /// A dense layer `x w (+ b)` for x of k values per example in any layout: the rows of w
    /// are put where x's row has their inputs.
    #[allow(clippy::too_many_arguments, reason = "the parts of one layer")]
    fn dense_layer(
        &mut self,
        node: &Node,
        x: &Act,
        k: usize,
        m: usize,
        weight: impl Fn(usize, usize) -> f64,
        bias: Option<Vec<f64>>,
        extra: &str,
    ) -> Result<(), ImportError> {
        let pos = x.layout.positions(k);
        let mut w = vec![0.0; k * m];
        for (i, &p) in pos.iter().enumerate() {
            for j in 0..m {
                w[p * m + j] = weight(i, j);
            }
        }
        let base = self.layer_name_peek(node);
        let wid = self.param(&format!("{base}_weight"), vec![k, m], w);
        let bid = bias.map(|b| self.param(&format!("{base}_bias"), vec![m], b));
        self.nn.insert("dense");
        let detail = format!(
            "{k} -> {m}{}{extra}",
            if x.layout == Layout::Plain {
                ""
            } else {
                " (its weights' rows in the input's layout)"
            }
        );
        let y = self.affine_layer(
            node,
            &detail,
            Affine {
                kind: AffineKind::Dense,
                input: x.var.clone(),
                weight: wid,
                bias: bid,
                channels: m,
            },
            vec![m],
            Layout::Plain,
        );
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn matmul(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        let b = self.constant(node, 1)?;
        let values = self.floats(node, &b)?;
        let [k, m] = b.dims[..] else {
            return Err(self.unsupported(
                node,
                format!(
                    "a right factor of shape {} (tfe takes a matrix)",
                    dims_text(&b.dims)
                ),
            ));
        };
        if x.dims.last() != Some(&k) {
            return Err(self.bad(
                node,
                format!(
                    "{} per example times {}",
                    dims_text(&x.dims),
                    dims_text(&b.dims)
                ),
            ));
        }
        if x.dims.len() == 1 {
            return self.dense_layer(node, &x, k, m, |i, j| values[i * m + j], None, "");
        }
        // Several vectors per example: one matrix product over all of them.
        let x = self.plain_order(&x, "a product per vector of each example");
        let t = x.size() / k;
        let base = self.layer_name_peek(node);
        let wid = self.param(&format!("{base}_weight"), vec![k, m], values);
        let w = self.param_name(wid).to_string();
        let mut dims = x.dims.clone();
        *dims.last_mut().expect("rank 2 or more") = m;
        let y = self.layer(
            node,
            &format!("{t} vectors of {k} -> {m} per example"),
            format!(
                "reshape(matmul(reshape({x}, [rows({x}) * {t}, {k}]), {w}), [rows({x}), {}])",
                t * m,
                x = x.var
            ),
            dims,
            Layout::Plain,
        );
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn arith(&mut self, node: &Node, op: Arith) -> Result<(), ImportError> {
        let a = self.value(node, 0)?.clone();
        let b = self.value(node, 1)?.clone();
        let sym = match op {
            Arith::Add => "+",
            Arith::Sub => "-",
            Arith::Mul => "*",
            Arith::Div => "/",
        };
        match (a, b) {
            (Val::Act(x), Val::Act(y)) => {
                if x.dims != y.dims {
                    return Err(self.unsupported(
                        node,
                        format!(
                            "broadcasting between two computed values ({} and {} per example)",
                            dims_text(&x.dims),
                            dims_text(&y.dims)
                        ),
                    ));
                }
                let y = self.like(&x, &y);
                let (expr, detail) = if op == Arith::Div {
                    self.math.insert("reciprocal");
                    (
                        format!("{} * reciprocal({})", x.var, y.var),
                        "(the divisor in [2^-10, 2^16))".to_string(),
                    )
                } else {
                    (format!("{} {sym} {}", x.var, y.var), String::new())
                };
                let out = self.layer(node, &detail, expr, x.dims.clone(), x.layout.clone());
                self.set(node, 0, Val::Act(out));
            }
            (Val::Act(x), Val::Const(c)) => {
                let values = self.broadcast(node, &c, &x.dims)?;
                let (scale, shift): (Option<Vec<f64>>, Option<Vec<f64>>) = match op {
                    Arith::Add => (None, Some(values.clone())),
                    Arith::Sub => (None, Some(values.iter().map(|v| -v).collect())),
                    Arith::Mul => (Some(values.clone()), None),
                    Arith::Div => (Some(values.iter().map(|v| 1.0 / v).collect()), None),
                };
                if op == Arith::Div && values.contains(&0.0) {
                    return Err(self.bad(node, "a division by zero".into()));
                }
                // A per-channel constant after a dense layer or a convolution joins its weights.
                if let Some(channels) =
                    self.per_channel(&x, scale.as_ref().or(shift.as_ref()).expect("one"))
                {
                    let pick = |v: &Option<Vec<f64>>| v.as_ref().map(|_| channels.clone());
                    let note = format!(
                        "{} `{}` ({}) folded in.",
                        node.op,
                        display_name(node),
                        "a constant per channel"
                    );
                    if self.fold(&x, pick(&scale).as_deref(), pick(&shift).as_deref(), note) {
                        self.set(node, 0, Val::Act(x));
                        return Ok(());
                    }
                }
                let stored = match op {
                    Arith::Div => values.iter().map(|v| 1.0 / v).collect(),
                    _ => values,
                };
                let base = format!("{}_{}", self.layer_name_peek(node), param_suffix(op));
                let p = self.operand_param(node, &base, stored, &x);
                let p = self.param_name(p).to_string();
                let sym = if op == Arith::Div { "*" } else { sym };
                let detail = if op == Arith::Div {
                    "(times the owner's reciprocals)"
                } else {
                    ""
                };
                let out = self.layer(
                    node,
                    detail,
                    format!("{} {sym} {p}", x.var),
                    x.dims.clone(),
                    x.layout.clone(),
                );
                self.set(node, 0, Val::Act(out));
            }
            (Val::Const(c), Val::Act(x)) => {
                let values = self.broadcast(node, &c, &x.dims)?;
                if matches!(op, Arith::Add | Arith::Mul) {
                    // Commutative: as x op c.
                    let (scale, shift) = if op == Arith::Add {
                        (None, Some(values.clone()))
                    } else {
                        (Some(values.clone()), None)
                    };
                    if let Some(channels) =
                        self.per_channel(&x, scale.as_ref().or(shift.as_ref()).expect("one"))
                    {
                        let pick = |v: &Option<Vec<f64>>| v.as_ref().map(|_| channels.clone());
                        let note = format!("{} `{}` folded in.", node.op, display_name(node));
                        if self.fold(&x, pick(&scale).as_deref(), pick(&shift).as_deref(), note) {
                            self.set(node, 0, Val::Act(x));
                            return Ok(());
                        }
                    }
                }
                let base = format!("{}_{}", self.layer_name_peek(node), param_suffix(op));
                let p = self.operand_param(node, &base, values, &x);
                let p = self.param_name(p).to_string();
                let (expr, detail) = match op {
                    Arith::Add => (format!("{p} + {}", x.var), ""),
                    Arith::Sub => (format!("{p} - {}", x.var), ""),
                    Arith::Mul => (format!("{p} * {}", x.var), ""),
                    Arith::Div => {
                        self.math.insert("reciprocal");
                        (
                            format!("{p} * reciprocal({})", x.var),
                            "(the divisor in [2^-10, 2^16))",
                        )
                    }
                };
                let out = self.layer(node, detail, expr, x.dims.clone(), x.layout.clone());
                self.set(node, 0, Val::Act(out));
            }
            (Val::Const(_), Val::Const(_)) => unreachable!("folded as a constant"),
        }
        Ok(())
    }

    /// When `values` (broadcast against `x`'s example, ONNX order) holds one value per output
    /// channel of the layer that computed `x`, those values.
    fn per_channel(&self, x: &Act, values: &[f64]) -> Option<Vec<f64>> {
        x.affine?;
        let channels = x.dims[0];
        let per = x.size() / channels;
        let out: Vec<f64> = (0..channels).map(|c| values[c * per]).collect();
        let uniform =
            (0..channels).all(|c| values[c * per..(c + 1) * per].iter().all(|v| *v == out[c]));
        uniform.then_some(out)
    }

    fn clip(&mut self, node: &Node) -> Result<(), ImportError> {
        let bound = |this: &Self, i: usize, attr: &str| -> Result<Option<f64>, ImportError> {
            if this.opset() < 11 {
                return Ok(node.float(attr));
            }
            match this.optional(node, i)? {
                None => Ok(None),
                Some(Val::Const(t)) => match t.as_f64().as_deref() {
                    Some([v]) => Ok(Some(*v)),
                    _ => Err(this.unsupported(node, "a bound that is not one number".into())),
                },
                Some(Val::Act(_)) => Err(this.unsupported(node, "a computed bound".into())),
            }
        };
        let low = bound(self, 1, "min")?;
        let high = bound(self, 2, "max")?;
        let x = self.act(node, 0)?;
        let (expr, detail) = match (low, high) {
            (Some(l), Some(h)) => {
                self.nn.insert("clip");
                (
                    format!("clip({}, low: {}, high: {})", x.var, literal(l), literal(h)),
                    format!("to [{}, {}]", literal(l), literal(h)),
                )
            }
            (Some(l), None) => (
                format!("select({x} < {l}, {l}, {x})", x = x.var, l = literal(l)),
                format!("from {}", literal(l)),
            ),
            (None, Some(h)) => (
                format!("select({x} > {h}, {h}, {x})", x = x.var, h = literal(h)),
                format!("up to {}", literal(h)),
            ),
            (None, None) => {
                self.set(node, 0, Val::Act(x));
                return Ok(());
            }
        };
        let y = self.layer(node, &detail, expr, x.dims.clone(), x.layout.clone());
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn softmax(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        let rank = x.dims.len() as i64 + 1;
        let default = if self.opset() >= 13 { -1 } else { 1 };
        let mut axis = node.int("axis").unwrap_or(default);
        if axis < 0 {
            axis += rank;
        }
        if axis <= 0 || axis >= rank {
            return Err(self.unsupported(node, format!("softmax along axis {axis} (the batch)")));
        }
        let axis = axis as usize;
        self.nn.insert("softmax");
        // Before opset 13, softmax runs over every axis from `axis` on; from 13, over `axis`.
        let over_rest = self.opset() < 13 || axis == x.dims.len();
        if axis == 1 && over_rest {
            // Over the whole example: the layout does not matter.
            let y = self.layer(
                node,
                "over each example",
                format!("softmax({}, axis: 1)", x.var),
                x.dims.clone(),
                x.layout.clone(),
            );
            self.set(node, 0, Val::Act(y));
            return Ok(());
        }
        if !over_rest {
            // One axis in the middle: only where it is last in the row (channels, channel-last).
            let last_in_row = match &x.layout {
                Layout::Perm { logical, perm } => {
                    logical == &x.dims && perm.last() == Some(&(axis - 1))
                }
                Layout::Plain => false,
            };
            if !last_in_row {
                return Err(self.unsupported(
                    node,
                    format!("softmax along axis {axis} of {}", dims_text(&x.dims)),
                ));
            }
            let n = x.dims[axis - 1];
            let y = self.layer(
                node,
                &format!("along axis {axis}"),
                format!(
                    "reshape(softmax(reshape({x}, [rows({x}) * {}, {n}]), axis: 1), [rows({x}), {}])",
                    x.size() / n,
                    x.size(),
                    x = x.var
                ),
                x.dims.clone(),
                x.layout.clone(),
            );
            self.set(node, 0, Val::Act(y));
            return Ok(());
        }
        let x = self.plain_order(&x, "softmax over trailing axes");
        let n: usize = x.dims[axis - 1..].iter().product();
        let y = self.layer(
            node,
            &format!("over axes {axis} and on"),
            format!(
                "reshape(softmax(reshape({x}, [rows({x}) * {}, {n}]), axis: 1), [rows({x}), {}])",
                x.size() / n,
                x.size(),
                x = x.var
            ),
            x.dims.clone(),
            Layout::Plain,
        );
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    /// Pads, strides and kernel of a convolution or pooling, checked to be what tfe's layers
    /// take: square windows, one stride, the same padding on every side, no dilation.
    fn window(
        &self,
        node: &Node,
        h: usize,
        w: usize,
        kernel: [usize; 2],
    ) -> Result<(usize, usize, usize), ImportError> {
        let [kh, kw] = kernel;
        if kh != kw {
            return Err(self.unsupported(node, format!("a {kh}×{kw} window (tfe's are square)")));
        }
        let strides = node.ints("strides").map_or(vec![1, 1], <[i64]>::to_vec);
        if strides.len() != 2 || strides[0] != strides[1] || strides[0] < 1 {
            return Err(self.unsupported(node, format!("strides {strides:?} (tfe's are equal)")));
        }
        let stride = strides[0] as usize;
        if let Some(d) = node.ints("dilations")
            && d.iter().any(|&v| v != 1)
        {
            return Err(self.unsupported(node, format!("dilations {d:?}")));
        }
        let pads: Vec<i64> = match node.string("auto_pad").unwrap_or("NOTSET") {
            "NOTSET" => node.ints("pads").map_or(vec![0; 4], <[i64]>::to_vec),
            "VALID" => vec![0; 4],
            "SAME_UPPER" | "SAME_LOWER" => {
                let total = |n: usize| {
                    let out = n.div_ceil(stride);
                    ((out - 1) * stride + kh).saturating_sub(n) as i64
                };
                let (th, tw) = (total(h), total(w));
                if th % 2 != 0 || tw % 2 != 0 {
                    return Err(
                        self.unsupported(node, "`SAME` padding that is uneven on two sides".into())
                    );
                }
                vec![th / 2, tw / 2, th / 2, tw / 2]
            }
            other => return Err(self.bad(node, format!("auto_pad `{other}`"))),
        };
        if pads.len() != 4 || pads.iter().any(|&p| p != pads[0]) || pads[0] < 0 {
            return Err(
                self.unsupported(node, format!("pads {pads:?} (tfe pads every side alike)"))
            );
        }
        let pad = pads[0] as usize;
        if kh > h + 2 * pad || kw > w + 2 * pad {
            return Err(self.bad(node, format!("a {kh}×{kw} window over {h}×{w}")));
        }
        Ok((kh, stride, pad))
    }

    fn conv(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        let x = self.images(node, &x)?;
        let [c, h, w] = x.dims[..] else {
            unreachable!("an image")
        };
        let wt = self.constant(node, 1)?;
        let values = self.floats(node, &wt)?;
        let [f, cg, kh, kw] = wt.dims[..] else {
            return Err(self.unsupported(
                node,
                format!(
                    "filters of shape {} (tfe has 2-D convolutions)",
                    dims_text(&wt.dims)
                ),
            ));
        };
        let (size, stride, pad) = self.window(node, h, w, [kh, kw])?;
        let group = node.int("group").unwrap_or(1) as usize;
        let bias = match self.optional(node, 2)? {
            None => None,
            Some(Val::Const(t)) => Some(self.floats(node, &t.clone())?),
            Some(Val::Act(_)) => return Err(self.unsupported(node, "a computed bias".into())),
        };
        let oh = (h + 2 * pad - size) / stride + 1;
        let ow = (w + 2 * pad - size) / stride + 1;
        let base = self.layer_name_peek(node);
        let (depthwise, k_dims, k) = if group == 1 {
            if cg != c {
                return Err(self.bad(node, format!("filters for {cg} channels, input has {c}")));
            }
            // [f, c, ky, kx] -> rows (ky, kx, c), one column per filter.
            let mut k = vec![0.0; size * size * c * f];
            for fi in 0..f {
                for ch in 0..c {
                    for ky in 0..size {
                        for kx in 0..size {
                            let row = (ky * size + kx) * c + ch;
                            k[row * f + fi] = values[((fi * c + ch) * size + ky) * size + kx];
                        }
                    }
                }
            }
            (false, vec![size * size * c, f], k)
        } else if group == c && f == c && cg == 1 {
            // One filter per channel: rows (ky, kx), one column per channel.
            let mut k = vec![0.0; size * size * c];
            for ch in 0..c {
                for ky in 0..size {
                    for kx in 0..size {
                        k[(ky * size + kx) * c + ch] = values[(ch * size + ky) * size + kx];
                    }
                }
            }
            (true, vec![size * size, c], k)
        } else {
            return Err(self.unsupported(
                node,
                format!(
                    "group {group} with {c} channels and {f} filters (tfe has group 1 and depthwise, one filter per channel)"
                ),
            ));
        };
        let kid = self.param(&format!("{base}_weight"), k_dims, k);
        let bid = bias.map(|b| self.param(&format!("{base}_bias"), vec![f], b));
        self.nn.insert(if depthwise {
            "depthwise_conv2d"
        } else {
            "conv2d"
        });
        let detail = format!(
            "{size}×{size}, {f} filters{}, stride {stride}, pad {pad}: {h}×{w}×{c} -> {oh}×{ow}×{f}",
            if depthwise { " (one per channel)" } else { "" }
        );
        let y = self.affine_layer(
            node,
            &detail,
            Affine {
                kind: AffineKind::Conv {
                    depthwise,
                    height: h,
                    width: w,
                    channels: c,
                    size,
                    stride,
                    pad,
                },
                input: x.var.clone(),
                weight: kid,
                bias: bid,
                channels: f,
            },
            vec![f, oh, ow],
            Layout::image(f, oh, ow),
        );
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn pool(&mut self, node: &Node, is_max: bool) -> Result<(), ImportError> {
        self.only_first_output(node)?;
        let mut x = self.act(node, 0)?;
        // max(relu(a), relu(b)) = relu(max(a, b)): a ReLU read only by a max-pooling runs after
        // it, on fewer values (a quarter for 2 × 2 windows of stride 2). Padding never wins a
        // window, so the values are the same.
        let mut relu_after = None;
        if is_max
            && self.uses(&x.value) == 1
            && x.layout.is_image(&x.dims)
            && let Some((index, input)) = self.relu_of.get(&x.var).cloned()
            && index + 1 == self.stmts.len()
            && input.layout.is_image(&input.dims)
        {
            let relu = self.stmts.pop().expect("the relu statement");
            self.layers -= 1;
            relu_after = Some(relu);
            x = input;
        }
        let x = self.images(node, &x)?;
        let [c, h, w] = x.dims[..] else {
            unreachable!("an image")
        };
        let kernel = match node.ints("kernel_shape") {
            Some([a, b]) => [*a as usize, *b as usize],
            _ => return Err(self.bad(node, "no 2-D kernel_shape".into())),
        };
        let (size, stride, pad) = self.window(node, h, w, kernel)?;
        if node.int("ceil_mode").unwrap_or(0) != 0 {
            let floor = (h + 2 * pad - size) / stride;
            let ceil = (h + 2 * pad - size).div_ceil(stride);
            let floor_w = (w + 2 * pad - size) / stride;
            let ceil_w = (w + 2 * pad - size).div_ceil(stride);
            if floor != ceil || floor_w != ceil_w {
                return Err(self.unsupported(node, "ceil_mode = 1 where it adds a window".into()));
            }
        }
        if node.int("storage_order").unwrap_or(0) != 0 {
            return Err(self.unsupported(node, "storage_order = 1".into()));
        }
        let oh = (h + 2 * pad - size) / stride + 1;
        let ow = (w + 2 * pad - size) / stride + 1;
        let include_pad = node.int("count_include_pad").unwrap_or(0) != 0;
        let (expr, name) = if stride == size && pad == 0 && h % size == 0 && w % size == 0 {
            let f = if is_max { "max_pool2d" } else { "avg_pool2d" };
            (
                format!(
                    "{f}({}, height: {h}, width: {w}, channels: {c}, size: {size})",
                    x.var
                ),
                f,
            )
        } else if is_max {
            (
                format!(
                    "max_pool2d_strided({}, height: {h}, width: {w}, channels: {c}, size: {size}, stride: {stride}, pad: {pad})",
                    x.var
                ),
                "max_pool2d_strided",
            )
        } else {
            (
                format!(
                    "avg_pool2d_strided({}, height: {h}, width: {w}, channels: {c}, size: {size}, stride: {stride}, pad: {pad}, include_pad: {include_pad})",
                    x.var
                ),
                "avg_pool2d_strided",
            )
        };
        self.nn.insert(name);
        let y = self.layer(
            node,
            &format!("{size}×{size}, stride {stride}, pad {pad}: {h}×{w}×{c} -> {oh}×{ow}×{c}"),
            expr,
            vec![c, oh, ow],
            Layout::image(c, oh, ow),
        );
        let y = match relu_after {
            None => y,
            Some(mut relu) => {
                relu.comment[0].push_str(
                    ", moved after the max-pooling it precedes in the model (the same values, on fewer elements)",
                );
                relu.kind = crate::translate::StmtKind::Expr(format!("relu({})", y.var));
                let var = relu.var.clone();
                self.stmts.push(relu);
                self.layers += 1;
                Act { var, ..y }
            }
        };
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn global_pool(&mut self, node: &Node, is_max: bool) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        let x = self.images(node, &x)?;
        let [c, h, w] = x.dims[..] else {
            unreachable!("an image")
        };
        let f = if is_max {
            "global_max_pool2d"
        } else {
            "global_avg_pool2d"
        };
        self.nn.insert(f);
        let y = self.layer(
            node,
            &format!("{h}×{w}×{c} -> {c}"),
            format!("{f}({}, height: {h}, width: {w}, channels: {c})", x.var),
            vec![c, 1, 1],
            Layout::Plain,
        );
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn batch_norm(&mut self, node: &Node) -> Result<(), ImportError> {
        self.only_first_output(node)?;
        if node.int("training_mode").unwrap_or(0) != 0 {
            return Err(self.unsupported(node, "training_mode = 1".into()));
        }
        let x = self.act(node, 0)?;
        let mut params = Vec::new();
        for i in 1..5 {
            let t = self.constant(node, i)?;
            params.push(self.floats(node, &t)?);
        }
        let eps = node.float("epsilon").unwrap_or(1e-5);
        let c = x.dims[0];
        if params.iter().any(|p| p.len() != c) {
            return Err(self.bad(node, format!("statistics not of {c} channels")));
        }
        let (gamma, beta, mean, var) = (&params[0], &params[1], &params[2], &params[3]);
        let scale: Vec<f64> = (0..c).map(|i| gamma[i] / (var[i] + eps).sqrt()).collect();
        let shift: Vec<f64> = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
        let note = format!("BatchNormalization `{}` folded in.", display_name(node));
        if self.fold(&x, Some(&scale), Some(&shift), note) {
            self.set(node, 0, Val::Act(x));
            return Ok(());
        }
        let base = self.layer_name_peek(node);
        if x.layout.is_image(&x.dims) {
            let s = self.param(&format!("{base}_scale"), vec![c], scale);
            let t = self.param(&format!("{base}_shift"), vec![c], shift);
            self.nn.insert("scale_channels");
            let (s, t) = (
                self.param_name(s).to_string(),
                self.param_name(t).to_string(),
            );
            let y = self.layer(
                node,
                "(scale and shift per channel)",
                format!("scale_channels({}, {s}, {t}, channels: {c})", x.var),
                x.dims.clone(),
                x.layout.clone(),
            );
            self.set(node, 0, Val::Act(y));
            return Ok(());
        }
        // Any other layout: the scale and shift of each element of the row.
        let mut shape = vec![c];
        shape.extend(std::iter::repeat_n(1, x.dims.len() - 1));
        let full = |v: Vec<f64>| Tensor::floats(shape.clone(), v);
        let sv = self.broadcast(node, &full(scale), &x.dims)?;
        let tv = self.broadcast(node, &full(shift), &x.dims)?;
        let s = self.operand_param(node, &format!("{base}_scale"), sv, &x);
        let t = self.operand_param(node, &format!("{base}_shift"), tv, &x);
        let (s, t) = (
            self.param_name(s).to_string(),
            self.param_name(t).to_string(),
        );
        let y = self.layer(
            node,
            "(scale and shift per channel)",
            format!("{} * {s} + {t}", x.var),
            x.dims.clone(),
            x.layout.clone(),
        );
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn flatten(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        let rank = x.dims.len() as i64 + 1;
        let mut axis = node.int("axis").unwrap_or(1);
        if axis < 0 {
            axis += rank;
        }
        if axis != 1 {
            return Err(self.unsupported(
                node,
                format!(
                    "axis {axis} (it would mix the examples of a batch; tfe keeps one per row)"
                ),
            ));
        }
        // The row is unchanged; only ONNX's dims change.
        let size = x.size();
        let y = Act {
            dims: vec![size],
            affine: None,
            ..x
        };
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn reshape(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        let shape = self.constant(node, 1)?;
        let Some(target) = int_values(&shape) else {
            return Err(self.unsupported(node, "a shape that is not integers".into()));
        };
        let allow_zero = node.int("allowzero").unwrap_or(0) != 0;
        let dims = self.per_example_dims(node, &x, &target, allow_zero)?;
        let y = Act {
            dims,
            affine: None,
            ..x
        };
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    /// A reshape's target for one example: its first entry must keep the batch.
    fn per_example_dims(
        &self,
        node: &Node,
        x: &Act,
        target: &[Int],
        allow_zero: bool,
    ) -> Result<Vec<usize>, ImportError> {
        let keeps_batch = match target.first() {
            Some(Int::Batch) => true,
            Some(Int::Known(0)) if !allow_zero => true,
            // [-1, rest]: the batch only if the rest is one example's size.
            Some(Int::Known(-1)) => {
                let rest: Option<usize> = target[1..]
                    .iter()
                    .enumerate()
                    .map(|(k, d)| match d {
                        Int::Known(0) if !allow_zero => x.dims.get(k).copied(),
                        Int::Known(n) if *n > 0 => Some(*n as usize),
                        _ => None,
                    })
                    .product();
                rest == Some(x.size())
            }
            Some(Int::Known(b)) => Some(*b as usize) == self.stated_batch() || *b == 1,
            None => false,
        };
        if !keeps_batch {
            return Err(self.unsupported(
                node,
                format!(
                    "a reshape to {} that does not keep the batch axis first",
                    ints_text(target)
                ),
            ));
        }
        let size = x.size();
        let mut dims: Vec<Option<usize>> = Vec::new();
        for (k, d) in target[1..].iter().enumerate() {
            dims.push(match d {
                Int::Known(-1) => None,
                Int::Known(0) if !allow_zero => {
                    Some(*x.dims.get(k).ok_or_else(|| {
                        self.bad(node, "a 0 (copy) beyond the input's rank".into())
                    })?)
                }
                Int::Known(n) if *n >= 0 => Some(*n as usize),
                _ => {
                    return Err(self.unsupported(
                        node,
                        format!("a reshape to {} past the batch axis", ints_text(target)),
                    ));
                }
            });
        }
        let known: usize = dims.iter().flatten().product();
        let unknown = dims.iter().filter(|d| d.is_none()).count();
        let dims: Option<Vec<usize>> = match unknown {
            0 => Some(dims.into_iter().flatten().collect()),
            1 if known > 0 && size.is_multiple_of(known) => Some(
                dims.into_iter()
                    .map(|d| d.unwrap_or(size / known))
                    .collect(),
            ),
            _ => None,
        };
        match dims {
            Some(dims) if dims.iter().product::<usize>() == size => Ok(dims),
            _ => Err(self.unsupported(
                node,
                format!(
                    "a reshape to {} of examples of {size} values: it would mix the examples of a batch",
                    ints_text(target)
                ),
            )),
        }
    }

    fn squeeze(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        let rank_in = x.dims.len() + 1;
        let axes: Option<Vec<i64>> =
            match node.ints("axes") {
                Some(a) => Some(a.to_vec()),
                None => match self.optional(node, 1)? {
                    Some(Val::Const(t)) => Some(known_ints(t).ok_or_else(|| {
                        self.unsupported(node, "axes that are not integers".into())
                    })?),
                    Some(Val::Act(_)) => {
                        return Err(self.unsupported(node, "computed axes".into()));
                    }
                    None => None,
                },
            };
        let mut full: Vec<usize> = vec![0];
        full.extend(&x.dims);
        let out: Vec<usize> = if node.op == "Unsqueeze" {
            let axes = axes.ok_or_else(|| self.bad(node, "no axes".into()))?;
            let rank_out = rank_in + axes.len();
            let mut axes: Vec<usize> = axes
                .iter()
                .map(|&a| {
                    if a < 0 {
                        (a + rank_out as i64) as usize
                    } else {
                        a as usize
                    }
                })
                .collect();
            axes.sort_unstable();
            if axes.first() == Some(&0) {
                return Err(self.unsupported(node, "a new axis before the batch".into()));
            }
            let mut out = full.clone();
            for a in axes {
                if a > out.len() {
                    return Err(self.bad(node, format!("axis {a}")));
                }
                out.insert(a, 1);
            }
            out
        } else {
            let axes: Vec<usize> = match axes {
                Some(a) => a
                    .iter()
                    .map(|&a| {
                        if a < 0 {
                            (a + rank_in as i64) as usize
                        } else {
                            a as usize
                        }
                    })
                    .collect(),
                None => (1..rank_in).filter(|&k| full[k] == 1).collect(),
            };
            if axes.contains(&0) {
                return Err(self.unsupported(node, "squeezing the batch axis".into()));
            }
            full.iter()
                .enumerate()
                .filter(|(k, _)| !axes.contains(k))
                .map(|(_, d)| *d)
                .collect()
        };
        let y = Act {
            dims: out[1..].to_vec(),
            affine: None,
            ..x
        };
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn transpose(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        let rank = x.dims.len() + 1;
        let perm: Vec<usize> = match node.ints("perm") {
            Some(p) => p.iter().map(|&a| a as usize).collect(),
            None => (0..rank).rev().collect(),
        };
        if perm.len() != rank || perm[0] != 0 {
            return Err(self.unsupported(
                node,
                format!("perm {perm:?} moves the batch axis (tfe keeps one example per row)"),
            ));
        }
        let q: Vec<usize> = perm[1..].iter().map(|&a| a - 1).collect();
        let x = match x.layout.transposed(&x.dims, &q) {
            Some(_) => x,
            None => self.plain_order(&x, "a transpose after a reshape"),
        };
        let layout = x.layout.transposed(&x.dims, &q).expect("plain transposes");
        let dims: Vec<usize> = q.iter().map(|&a| x.dims[a]).collect();
        // No data moves: the new layout says where each element is.
        let y = Act {
            dims,
            layout,
            affine: None,
            ..x
        };
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn concat(&mut self, node: &Node) -> Result<(), ImportError> {
        let mut parts = Vec::new();
        for i in 0..node.inputs.len() {
            parts.push(self.act(node, i)?);
        }
        let rank = parts[0].dims.len() as i64 + 1;
        let mut axis = node
            .int("axis")
            .ok_or_else(|| self.bad(node, "no axis".into()))?;
        if axis < 0 {
            axis += rank;
        }
        if axis <= 0 || axis >= rank {
            return Err(self.unsupported(node, "concatenation along the batch axis".into()));
        }
        let a = axis as usize - 1;
        let first = parts[0].clone();
        for p in &parts[1..] {
            let same = p.dims.len() == first.dims.len()
                && p.dims
                    .iter()
                    .zip(&first.dims)
                    .enumerate()
                    .all(|(k, (x, y))| k == a || x == y);
            if !same {
                return Err(self.bad(node, "parts of different shapes".into()));
            }
        }
        // In the row, the parts join where the axis starts: every axis before it (in the row's
        // order) splits the row into blocks that alternate between the parts.
        let (logical, perm) = match &first.layout {
            Layout::Perm { logical, perm } if *logical == first.dims => {
                (logical.clone(), perm.clone())
            }
            _ => (first.dims.clone(), (0..first.dims.len()).collect()),
        };
        let layout = if first.layout == Layout::Plain || logical == first.dims {
            first.layout.clone()
        } else {
            Layout::Plain
        };
        let mut vars = Vec::new();
        for p in &parts {
            let p = if layout == Layout::Plain {
                self.plain_order(p, "a concatenation")
            } else {
                self.like(&first, p)
            };
            vars.push(p);
        }
        let k = perm.iter().position(|&x| x == a).expect("a permutation");
        let blocks: usize = perm[..k].iter().map(|&x| logical[x]).product();
        let mut dims = first.dims.clone();
        dims[a] = vars.iter().map(|p| p.dims[a]).sum();
        let total: usize = dims.iter().product();
        let expr = if blocks == 1 {
            format!(
                "concat([{}], axis: 1)",
                vars.iter()
                    .map(|p| p.var.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "reshape(concat([{}], axis: 1), [rows({}), {total}])",
                vars.iter()
                    .map(|p| format!(
                        "reshape({v}, [rows({v}) * {blocks}, {}])",
                        p.size() / blocks,
                        v = p.var
                    ))
                    .collect::<Vec<_>>()
                    .join(", "),
                vars[0].var
            )
        };
        let layout = match layout {
            Layout::Perm { perm, .. } => Layout::Perm {
                logical: dims.clone(),
                perm,
            },
            Layout::Plain => Layout::Plain,
        };
        let y = self.layer(node, &format!("along axis {axis}"), expr, dims, layout);
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn shape(&mut self, node: &Node) -> Result<(), ImportError> {
        let full: Vec<Int> = match self.value(node, 0)? {
            Val::Act(a) => std::iter::once(Int::Batch)
                .chain(a.dims.iter().map(|&d| Int::Known(d as i64)))
                .collect(),
            Val::Const(t) => t.dims.iter().map(|&d| Int::Known(d as i64)).collect(),
        };
        let n = full.len() as i64;
        let clamp = |v: i64| (if v < 0 { v + n } else { v }).clamp(0, n) as usize;
        let start = clamp(node.int("start").unwrap_or(0));
        let end = clamp(node.int("end").unwrap_or(n));
        let v: Vec<Int> = full[start..end.max(start)].to_vec();
        self.set(
            node,
            0,
            Val::Const(Tensor {
                dims: vec![v.len()],
                data: Data::Int(v),
            }),
        );
        Ok(())
    }

    // ---- scikit-learn's operators (ai.onnx.ml) -------------------------------------------

    fn linear_classifier(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        if node.outputs.first().is_some_and(|o| self.uses(o) > 0) {
            return Err(self.unsupported(
                node,
                "its label output is used; tfe reveals the scores (output 2)".into(),
            ));
        }
        let coef = node.floats("coefficients").unwrap_or(&[]).to_vec();
        let intercepts = node.floats("intercepts").map(<[f64]>::to_vec);
        let classes = node
            .ints("classlabels_ints")
            .map(<[i64]>::len)
            .or_else(|| match node.attrs.get("classlabels_strings") {
                Some(Attr::Strings(s)) => Some(s.len()),
                _ => None,
            })
            .unwrap_or(0);
        let [f] = x.dims[..] else {
            return Err(self.unsupported(node, format!("input {} per example", dims_text(&x.dims))));
        };
        if f == 0 || !coef.len().is_multiple_of(f) {
            return Err(self.bad(
                node,
                format!("{} coefficients for {f} features", coef.len()),
            ));
        }
        let targets = coef.len() / f;
        let mut b = intercepts.unwrap_or_else(|| vec![0.0; targets]);
        if b.len() != targets {
            return Err(self.bad(
                node,
                format!("{} intercepts for {targets} targets", b.len()),
            ));
        }
        // One score for two classes: the scores are [-s, s].
        let (m, weight): (usize, Box<dyn Fn(usize, usize) -> f64>) = if targets == 1 && classes == 2
        {
            b = vec![-b[0], b[0]];
            let c = coef.clone();
            (2, Box::new(move |i, j| if j == 0 { -c[i] } else { c[i] }))
        } else {
            let c = coef.clone();
            (targets, Box::new(move |i, j| c[j * f + i]))
        };
        let post = node.string("post_transform").unwrap_or("NONE").to_string();
        self.post_transformed(node, &x, f, m, &*weight, b, &post)
    }

    fn linear_regressor(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        let [f] = x.dims[..] else {
            return Err(self.unsupported(node, format!("input {} per example", dims_text(&x.dims))));
        };
        let coef = node.floats("coefficients").unwrap_or(&[]).to_vec();
        let targets = node.int("targets").unwrap_or(1) as usize;
        if coef.len() != targets * f {
            return Err(self.bad(
                node,
                format!("{} coefficients for {f} features", coef.len()),
            ));
        }
        let b = node
            .floats("intercepts")
            .map_or(vec![0.0; targets], <[f64]>::to_vec);
        let post = node.string("post_transform").unwrap_or("NONE").to_string();
        self.post_transformed(node, &x, f, targets, &|i, j| coef[j * f + i], b, &post)
    }

    /// A linear model's scores, then its post-transform.
    #[allow(clippy::too_many_arguments, reason = "the parts of one layer")]
    fn post_transformed(
        &mut self,
        node: &Node,
        x: &Act,
        f: usize,
        m: usize,
        weight: &dyn Fn(usize, usize) -> f64,
        bias: Vec<f64>,
        post: &str,
    ) -> Result<(), ImportError> {
        let wrap = match post {
            "NONE" => None,
            "LOGISTIC" => Some("sigmoid_precise"),
            "SOFTMAX" | "SOFTMAX_ZERO" => Some("softmax"),
            other => {
                return Err(self.unsupported(node, format!("post_transform `{other}`")));
            }
        };
        let Some(wrap) = wrap else {
            return self.dense_layer(node, x, f, m, weight, Some(bias), "");
        };
        let pos = x.layout.positions(f);
        let mut w = vec![0.0; f * m];
        for (i, &p) in pos.iter().enumerate() {
            for j in 0..m {
                w[p * m + j] = weight(i, j);
            }
        }
        let base = self.layer_name_peek(node);
        let wid = self.param(&format!("{base}_weight"), vec![f, m], w);
        let bid = self.param(&format!("{base}_bias"), vec![m], bias);
        let (w, b) = (
            self.param_name(wid).to_string(),
            self.param_name(bid).to_string(),
        );
        self.nn.insert("dense");
        self.nn.insert(wrap);
        let expr = if wrap == "softmax" {
            format!("softmax(dense({}, {w}, {b}), axis: 1)", x.var)
        } else {
            format!("{wrap}(dense({}, {w}, {b}))", x.var)
        };
        let y = self.layer(
            node,
            &format!("{f} -> {m}, then {post}"),
            expr,
            vec![m],
            Layout::Plain,
        );
        self.set(node, 1, Val::Act(y));
        Ok(())
    }

    fn normalizer(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        if x.dims.len() != 1 {
            return Err(self.unsupported(node, format!("input {} per example", dims_text(&x.dims))));
        }
        let f = match node.string("norm").unwrap_or("MAX") {
            "L1" => "normalize_l1",
            "L2" => "normalize_l2",
            "MAX" => "normalize_max",
            other => return Err(self.bad(node, format!("norm `{other}`"))),
        };
        self.nn.insert(f);
        let y = self.layer(
            node,
            "",
            format!("{f}({})", x.var),
            x.dims.clone(),
            x.layout.clone(),
        );
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    fn scaler(&mut self, node: &Node) -> Result<(), ImportError> {
        let x = self.act(node, 0)?;
        let n = x.size();
        let expand = |v: Option<&[f64]>, default: f64| -> Vec<f64> {
            match v {
                None => vec![default; n],
                Some([one]) => vec![*one; n],
                Some(v) => v.to_vec(),
            }
        };
        let offset = expand(node.floats("offset"), 0.0);
        let scale = expand(node.floats("scale"), 1.0);
        if offset.len() != n || scale.len() != n {
            return Err(self.bad(node, format!("offsets or scales not of {n} values")));
        }
        // (x - offset) * scale = x * scale - offset * scale: one product.
        let shift: Vec<f64> = offset.iter().zip(&scale).map(|(o, s)| -o * s).collect();
        let base = self.layer_name_peek(node);
        let s = self.operand_param(node, &format!("{base}_scale"), scale, &x);
        let t = self.operand_param(node, &format!("{base}_shift"), shift, &x);
        let (s, t) = (
            self.param_name(s).to_string(),
            self.param_name(t).to_string(),
        );
        let y = self.layer(
            node,
            "(x - offset) * scale",
            format!("{} * {s} + {t}", x.var),
            x.dims.clone(),
            x.layout.clone(),
        );
        self.set(node, 0, Val::Act(y));
        Ok(())
    }

    // ---- Helpers --------------------------------------------------------------------------

    /// A constant's values as floats.
    fn floats(&self, node: &Node, t: &Tensor) -> Result<Vec<f64>, ImportError> {
        t.as_f64().ok_or_else(|| {
            self.unsupported(node, "a parameter that depends on the batch size".into())
        })
    }

    /// The name the node's layer will take (for its parameters' names), without taking it.
    fn layer_name_peek(&mut self, node: &Node) -> String {
        crate::translate::identifier(&{
            let n = self.layer_name(node);
            self.release(&n);
            n
        })
    }
}

fn param_suffix(op: Arith) -> &'static str {
    match op {
        Arith::Add => "add",
        Arith::Sub => "sub",
        Arith::Mul => "scale",
        Arith::Div => "inverse",
    }
}

fn ints_text(v: &[Int]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|i| match i {
                Int::Known(k) => k.to_string(),
                Int::Batch => "batch".into(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    )
}
