//! Runs the module's static constructors once per wasm instance. tract registers its
//! operators with them (the `inventory` crate); when a module never calls
//! `__wasm_call_ctors` itself, wasm-ld runs the constructors again at the top of EVERY
//! export (measured in Node: 440 us instead of 40 us per decision). Referencing the
//! function here turns that wrapping off; `run_once` must then precede any model load.
//! The web build calls it from its start function, the worker at the top of each handler
//! (workers-rs already owns the module's start function).

use std::cell::Cell;

unsafe extern "C" {
    fn __wasm_call_ctors();
}

thread_local! {
    static DONE: Cell<bool> = const { Cell::new(false) };
}

pub fn run_once() {
    if !DONE.with(|d| d.replace(true)) {
        // SAFETY: wasm-ld synthesizes this function; it runs each static constructor.
        // The flag above makes this the only call in this instance.
        unsafe { __wasm_call_ctors() }
    }
}
