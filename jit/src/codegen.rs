//! Compiles a [`Kernel`] to machine code with Cranelift: one loop over the elements, four at a
//! time with a one-at-a-time tail, every instruction on registers, one load per input element
//! and one store per output element. The function's signature is
//! `extern "C" fn(inputs: *const *const u64, outputs: *const *mut u64, n: u64)` (the arrays
//! hold `u128` for a wide kernel, on Cranelift's `i128`).

use cranelift_codegen::Context;
use cranelift_codegen::ir::{
    AbiParam, Function, InstBuilder, MemFlagsData, Signature, UserFuncName, Value, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module, default_libcall_names};

use crate::kernel::{Inst, Kernel, Ty};

/// How many elements the main loop handles per iteration.
const UNROLL: i64 = 4;

/// The compiled function.
pub type KernelFn = unsafe extern "C" fn(*const *const u64, *const *mut u64, u64);

/// A JIT module that owns the code of the kernels compiled into it.
pub struct Jit {
    module: JITModule,
    ctx: Context,
    builder: FunctionBuilderContext,
    next: u32,
}

impl std::fmt::Debug for Jit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jit").field("kernels", &self.next).finish()
    }
}

impl Jit {
    /// A JIT for this machine; `Err` where Cranelift has no backend for it.
    pub fn new() -> Result<Jit, String> {
        let mut flags = settings::builder();
        flags.set("opt_level", "speed").map_err(|e| e.to_string())?;
        flags
            .set("use_colocated_libcalls", "false")
            .map_err(|e| e.to_string())?;
        flags.set("is_pic", "false").map_err(|e| e.to_string())?;
        let isa = cranelift_native::builder()
            .map_err(|e| format!("no JIT for this machine: {e}"))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())?;
        let module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
        Ok(Jit {
            ctx: module.make_context(),
            module,
            builder: FunctionBuilderContext::new(),
            next: 0,
        })
    }

    /// Compiles `kernel` (already checked) into this module.
    pub fn compile(&mut self, kernel: &Kernel, types_of: &[Ty]) -> Result<KernelFn, String> {
        let ptr = types::I64;
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.push(AbiParam::new(ptr));
        sig.params.push(AbiParam::new(ptr));
        sig.params.push(AbiParam::new(types::I64));
        let name = format!("kernel{}", self.next);
        let id = self
            .module
            .declare_function(&name, Linkage::Local, &sig)
            .map_err(|e| e.to_string())?;
        self.ctx.func = Function::with_name_signature(UserFuncName::user(0, id.as_u32()), sig);
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.builder);
            let entry = b.create_block();
            let main_head = b.create_block();
            let main_body = b.create_block();
            let tail_head = b.create_block();
            let tail_body = b.create_block();
            let exit = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let params = b.block_params(entry).to_vec();
            let (ins_ptr, outs_ptr, n) = (params[0], params[1], params[2]);
            let flags = MemFlagsData::trusted();
            let inputs: Vec<Value> = (0..kernel.inputs.len())
                .map(|k| b.ins().load(ptr, flags, ins_ptr, (8 * k) as i32))
                .collect();
            let outputs: Vec<Value> = (0..kernel.outputs.len())
                .map(|k| b.ins().load(ptr, flags, outs_ptr, (8 * k) as i32))
                .collect();
            // Bytes per element: log2 of 8, or of 16 in a wide kernel.
            let shift = if kernel.is_wide() { 4 } else { 3 };
            let size = 1i32 << shift;
            let i = b.declare_var(types::I64);
            let zero = b.ins().iconst(types::I64, 0);
            b.def_var(i, zero);
            b.ins().jump(main_head, &[]);

            // Main loop: while i + UNROLL <= n.
            b.switch_to_block(main_head);
            let iv = b.use_var(i);
            let next = b.ins().iadd_imm_s(iv, UNROLL);
            let fits = b.ins().icmp(
                cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThanOrEqual,
                next,
                n,
            );
            b.ins().brif(fits, main_body, &[], tail_head, &[]);
            b.switch_to_block(main_body);
            let iv = b.use_var(i);
            let offset = b.ins().ishl_imm_u(iv, shift);
            for u in 0..UNROLL {
                emit_element(
                    &mut b,
                    kernel,
                    types_of,
                    &inputs,
                    &outputs,
                    offset,
                    size * u as i32,
                );
            }
            let iv = b.ins().iadd_imm_s(iv, UNROLL);
            b.def_var(i, iv);
            b.ins().jump(main_head, &[]);

            // Tail: while i < n.
            b.switch_to_block(tail_head);
            let iv = b.use_var(i);
            let more = b.ins().icmp(
                cranelift_codegen::ir::condcodes::IntCC::UnsignedLessThan,
                iv,
                n,
            );
            b.ins().brif(more, tail_body, &[], exit, &[]);
            b.switch_to_block(tail_body);
            let iv = b.use_var(i);
            let offset = b.ins().ishl_imm_u(iv, shift);
            emit_element(&mut b, kernel, types_of, &inputs, &outputs, offset, 0);
            let iv = b.ins().iadd_imm_s(iv, 1);
            b.def_var(i, iv);
            b.ins().jump(tail_head, &[]);

            b.switch_to_block(exit);
            b.ins().return_(&[]);
            b.seal_all_blocks();
            b.finalize(self.module.target_config());
        }
        self.module
            .define_function(id, &mut self.ctx)
            .map_err(|e| format!("{e:?}"))?;
        self.module.clear_context(&mut self.ctx);
        self.module
            .finalize_definitions()
            .map_err(|e| e.to_string())?;
        self.next += 1;
        let code = self.module.get_finalized_function(id);
        // SAFETY: `code` is the entry of the function just defined with the `KernelFn`
        // signature (two pointers and a u64, no return, System V); the module owns the code and
        // lives as long as `self`, and callers keep `self` alive while they hold the pointer.
        #[allow(unsafe_code, reason = "the one way to call generated code")]
        Ok(unsafe { std::mem::transmute::<*const u8, KernelFn>(code) })
    }
}

/// Emits the kernel's body for the element at `offset + extra` bytes into every array.
fn emit_element(
    b: &mut FunctionBuilder<'_>,
    kernel: &Kernel,
    types_of: &[Ty],
    inputs: &[Value],
    outputs: &[Value],
    offset: Value,
    extra: i32,
) {
    let flags = MemFlagsData::trusted();
    let mut values: Vec<Value> = Vec::with_capacity(kernel.body.len());
    let as_f64 =
        |b: &mut FunctionBuilder<'_>, v: Value| b.ins().bitcast(types::F64, MemFlagsData::new(), v);
    let as_i64 =
        |b: &mut FunctionBuilder<'_>, v: Value| b.ins().bitcast(types::I64, MemFlagsData::new(), v);
    // A wide kernel's words are i128; its shifts take their amount in a register (Cranelift's
    // immediate shifts are for words up to 64 bits).
    let word = if kernel.is_wide() {
        types::I128
    } else {
        types::I64
    };
    let wide_shift = |b: &mut FunctionBuilder<'_>, s: u8| b.ins().iconst(types::I64, i64::from(s));
    for inst in &kernel.body {
        let v = |x: u32| values[x as usize];
        let value = match *inst {
            Inst::Input(k) => {
                let addr = b.ins().iadd(inputs[k as usize], offset);
                b.ins().load(word, flags, addr, extra)
            }
            Inst::Shl(x, s) if kernel.is_wide() => {
                let amount = wide_shift(b, s);
                b.ins().ishl(v(x), amount)
            }
            Inst::Shr(x, s) if kernel.is_wide() => {
                let amount = wide_shift(b, s);
                b.ins().ushr(v(x), amount)
            }
            Inst::Sar(x, s) if kernel.is_wide() => {
                let amount = wide_shift(b, s);
                b.ins().sshr(v(x), amount)
            }
            Inst::Const(c, _) => b.ins().iconst(types::I64, c as i64),
            Inst::Add(x, y) => b.ins().iadd(v(x), v(y)),
            Inst::Sub(x, y) => b.ins().isub(v(x), v(y)),
            Inst::Mul(x, y) => b.ins().imul(v(x), v(y)),
            Inst::Neg(x) => b.ins().ineg(v(x)),
            Inst::And(x, y) => b.ins().band(v(x), v(y)),
            Inst::Or(x, y) => b.ins().bor(v(x), v(y)),
            Inst::Xor(x, y) => b.ins().bxor(v(x), v(y)),
            Inst::Not(x) => b.ins().bnot(v(x)),
            Inst::Shl(x, s) => b.ins().ishl_imm_u(v(x), i64::from(s)),
            Inst::Shr(x, s) => b.ins().ushr_imm_u(v(x), i64::from(s)),
            Inst::Sar(x, s) => b.ins().sshr_imm_u(v(x), i64::from(s)),
            Inst::FAdd(x, y) | Inst::FSub(x, y) | Inst::FMul(x, y) | Inst::FDiv(x, y) => {
                let (fx, fy) = (as_f64(b, v(x)), as_f64(b, v(y)));
                let r = match *inst {
                    Inst::FAdd(..) => b.ins().fadd(fx, fy),
                    Inst::FSub(..) => b.ins().fsub(fx, fy),
                    Inst::FMul(..) => b.ins().fmul(fx, fy),
                    _ => b.ins().fdiv(fx, fy),
                };
                as_i64(b, r)
            }
            Inst::FNeg(x) => {
                let fx = as_f64(b, v(x));
                let r = b.ins().fneg(fx);
                as_i64(b, r)
            }
        };
        let _ = types_of;
        values.push(value);
    }
    for (k, &o) in kernel.outputs.iter().enumerate() {
        let addr = b.ins().iadd(outputs[k], offset);
        b.ins().store(flags, values[o as usize], addr, extra);
    }
}
