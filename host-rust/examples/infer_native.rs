//! The inference benchmark's native figure: the component's own inference code
//! (`attune::infer`), compiled for this machine instead of wasm32, timed on the message
//! given on stdin. Prints messages per second (median of 7 runs of 2,000).

use agentcell_component::attune::infer::{infer, DEFAULT_CONFIDENCE_CAP};
use std::io::Read;

fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).expect("a message on stdin");
    let runs = 2000;
    let mut rates: Vec<f64> = (0..7)
        .map(|_| {
            let t = std::time::Instant::now();
            for _ in 0..runs {
                std::hint::black_box(infer(std::hint::black_box(&text), DEFAULT_CONFIDENCE_CAP).unwrap());
            }
            f64::from(runs) / t.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!("{:.0}", rates[3]);
}
