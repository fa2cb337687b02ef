//! Links the `liftwatch` executable at a fixed address (not position independent): the
//! dynamic loader then has no relocations to apply at start-up (a PIE build of it carries
//! about 20,000, whose pages each start-up dirtied), which took the start-up bench's
//! time to the first `/next` from about 2.5-2.8 to 1.9 ms and the binary from 8.06 to
//! 7.55 MB. The code stays position-independent; only the link differs, so this needs no
//! RUSTFLAGS and holds for every build of the binary, the layer's included.

fn main() {
    println!("cargo:rustc-link-arg-bin=liftwatch=-no-pie");
}
