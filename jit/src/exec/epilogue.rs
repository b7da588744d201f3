//! Running a product fused with its epilogue (`Instr::Fused`): the
//! product's operands and the kernel's pointers are handed to
//! `cdlc_runtime::gemm::epilogue::run`, which applies the kernel's tile
//! program in registers or calls the compiled kernel on each panel of
//! rows right after the product wrote them.

use cdlc_runtime::gemm::epilogue::{self, Fused, Operand, Output};

use super::{Elem, Run, dim};
use crate::JitError;
use crate::plan::*;

/// The most pointers a kernel call gets from the stack; more use the heap.
const STACK_PTRS: usize = 32;

impl<T: Elem> Run<'_, T> {
    /// Runs `f` over `rows` rows.
    pub(super) fn fused(&mut self, f: &FusedCode, rows: usize) -> Result<(), JitError> {
        let (
            Instr::Gemm {
                m,
                k,
                n,
                a,
                b,
                c,
                c_buf,
                c_len,
                per_row,
            },
            Instr::Elementwise {
                kernel,
                locs,
                steps,
                n_out,
                ..
            },
        ) = (&f.gemm, &f.ew)
        else {
            return Err(JitError::Internal("a fused step without its parts".into()));
        };
        let (mm, kk, nn) = (dim(*m, rows), dim(*k, rows), dim(*n, rows));
        let in_registers = f.program.as_ref().is_some_and(|t| {
            cdlc_runtime::gemm::epilogue::in_registers::<T>(
                [mm, kk, nn],
                b.cs as isize,
                &t.program,
                t.inputs.len(),
            )
        });
        // A broadcast input is expanded only for the compiled kernel.
        if let Some(bc) = &f.broadcast
            && !in_registers
        {
            self.instr(&bc.expand, rows)?;
        }
        self.ensure(*c_buf, dim(*c_len, rows));
        let n_in = locs.len() - n_out;
        for (&l, &s) in locs[n_in..].iter().zip(&steps[n_in..]) {
            if let Loc::Buf(b) = l {
                self.ensure(b, rows * s);
            }
        }
        let (pa, pb, pc) = (self.ptr(a.loc), self.ptr(b.loc), self.ptr(c.loc));
        let ptrs: Vec<*mut u8> = locs.iter().map(|&l| self.ptr(l) as *mut u8).collect();
        let (count, gemm_steps, unit_rows) = match per_row {
            Some(s) => (rows, s.map(|x| x as isize), mm),
            None => (1, [0; 3], m.fixed),
        };
        self.st.multiply_adds += (count * mm * kk * nn) as u64;
        let code = self.kernels[*kernel];
        let size = std::mem::size_of::<T>();
        let panel = |from: usize, to: usize| {
            let mut stack = [std::ptr::null_mut::<u8>(); STACK_PTRS];
            let mut heap = Vec::new();
            let q: &mut [*mut u8] = if ptrs.len() <= STACK_PTRS {
                &mut stack[..ptrs.len()]
            } else {
                heap.resize(ptrs.len(), std::ptr::null_mut());
                &mut heap
            };
            for ((slot, &p), &s) in q.iter_mut().zip(&ptrs).zip(steps) {
                *slot = p.wrapping_add(from * s * size);
            }
            // SAFETY: every pointer covers rows `from..to` of its operand
            // (buffers were ensured, inputs are batch-sized; shared
            // operands have step 0), and the product wrote those rows of
            // its output. `plan::verify` checks the kernel as an
            // elementwise step after the product (P003-P006).
            unsafe { code(q.as_ptr(), (to - from) as i64) };
        };
        let tiled = f.program.as_ref().map(|t| {
            let ins: Vec<Operand<T>> = t
                .inputs
                .iter()
                .map(|&(i, [step, rs, cs])| Operand {
                    ptr: match &f.broadcast {
                        Some(bc) if bc.input == i => self.ptr(bc.src) as *const T,
                        _ => ptrs[i] as *const T,
                    },
                    step,
                    rs,
                    cs,
                })
                .collect();
            let outs: Vec<Output<T>> = t
                .outputs
                .iter()
                .zip(&ptrs[n_in..])
                .map(|(&[step, rs], &p)| Output {
                    ptr: p as *mut T,
                    step,
                    rs,
                })
                .collect();
            (&t.program, ins, outs)
        });
        let fused = Fused {
            count,
            steps: gemm_steps,
            unit_rows,
            dims: [mm, kk, nn],
            a: (pa as *const T, a.rs as isize, a.cs as isize),
            b: (pb as *const T, b.rs as isize, b.cs as isize),
            c: (pc, c.rs as isize),
            program: tiled.as_ref().map(|(p, i, o)| (*p, &i[..], &o[..])),
            store_c: f.store_c,
            panel: &panel,
        };
        // SAFETY: the lowering sized every operand of the product and of
        // the kernel for these rows (`plan::verify`: P003, P004); C and the
        // kernel's outputs are buffers apart from the product's operands
        // and from each other (P005, P006, checked for the fused step too).
        unsafe { epilogue::run(&fused) };
        Ok(())
    }
}
