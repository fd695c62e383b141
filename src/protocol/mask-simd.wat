;; WebSocket masking with WebAssembly SIMD (the source of mask-simd-module.ts;
;; rebuild with `npm run build:wasm`, which needs wat2wasm from wabt).
;;
;; mask(length, key) XORs the first `length` bytes of memory, rounded up to a
;; multiple of 64, with the 32-bit little-endian `key` repeated. The caller
;; copies the payload to address 0, calls this, and copies `length` bytes
;; back; the bytes past `length` are scratch.
(module
  (memory (export "memory") 2)
  (func (export "mask") (param $length i32) (param $key i32)
    (local $i i32)
    (local $k v128)
    (local.set $k (i32x4.splat (local.get $key)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $length)))
        (v128.store offset=0 (local.get $i) (v128.xor (v128.load offset=0 (local.get $i)) (local.get $k)))
        (v128.store offset=16 (local.get $i) (v128.xor (v128.load offset=16 (local.get $i)) (local.get $k)))
        (v128.store offset=32 (local.get $i) (v128.xor (v128.load offset=32 (local.get $i)) (local.get $k)))
        (v128.store offset=48 (local.get $i) (v128.xor (v128.load offset=48 (local.get $i)) (local.get $k)))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $next)))))
