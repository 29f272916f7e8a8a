;; Training kernels (wasm32, shared memory): quantile binning, node partitioning, row reordering
;; and gradient histograms for the gbdt, and the Gram update of ridge. `npm run build:wasm` assembles it with wabt (threads + bulk memory +
;; simd) into WASM_BASE64 in hist-kernel.mjs; test/gbdt-kernel.test.ts checks the two agree.
;;
;; Row-major bins are kept per feature group (one matrix [rows, group width] each, handled by one
;; thread at a time; `nf` below is then the group's width) in partition order (see gatherRows), so a
;; node's rows [start, end) are contiguous and the histogram loops stream them.
;;
;; A histogram bin is one i64: (sum of quantised gradients << 24) + row count. One integer add per
;; (row, feature) updates both, sums are exact (independent of order), and a node's histogram is
;; 8 bytes x 256 bins per feature. Feature f's bins start at hist + f * 2048.
(module
  (import "env" "memory" (memory 1 65536 shared))
  ;; Rows [start, end) of the partition-ordered row-major bins [rows, nf] over features f0..f1;
  ;; gq = i32 quantised gradients in the same order.
  (func (export "histContiguous")
    (param $bins i32) (param $nf i32) (param $gq i32) (param $hist i32)
    (param $start i32) (param $end i32) (param $f0 i32) (param $f1 i32)
    (local $i i32) (local $j i32) (local $je i32) (local $hb i32) (local $v i64) (local $b i32) (local $o i32)
    (local.set $i (local.get $start))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
      (br_if $done (i32.ge_s (local.get $f0) (local.get $f1)))
      (loop $rows
        (local.set $o (i32.add (local.get $bins) (i32.mul (local.get $i) (local.get $nf))))
        (local.set $v (i64.or
          (i64.shl (i64.extend_i32_s (i32.load (i32.add (local.get $gq) (i32.shl (local.get $i) (i32.const 2))))) (i64.const 24))
          (i64.const 1)))
        (local.set $j (i32.add (local.get $o) (local.get $f0)))
        (local.set $je (i32.add (local.get $o) (local.get $f1)))
        (local.set $hb (i32.add (local.get $hist) (i32.shl (local.get $f0) (i32.const 11))))
        (loop $feats
          (local.set $b (i32.add (local.get $hb) (i32.shl (i32.load8_u (local.get $j)) (i32.const 3))))
          (i64.store (local.get $b) (i64.add (i64.load (local.get $b)) (local.get $v)))
          (local.set $hb (i32.add (local.get $hb) (i32.const 2048)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $feats (i32.lt_u (local.get $j) (local.get $je))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $rows (i32.lt_s (local.get $i) (local.get $end))))))
  ;; Same over an explicit feature list: i32 features at $feats, indices from..to.
  (func (export "histListed")
    (param $bins i32) (param $nf i32) (param $gq i32) (param $hist i32)
    (param $start i32) (param $end i32) (param $feats i32) (param $from i32) (param $to i32)
    (local $i i32) (local $k i32) (local $f i32) (local $v i64) (local $b i32) (local $o i32)
    (local.set $i (local.get $start))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
      (br_if $done (i32.ge_s (local.get $from) (local.get $to)))
      (loop $rows
        (local.set $o (i32.add (local.get $bins) (i32.mul (local.get $i) (local.get $nf))))
        (local.set $v (i64.or
          (i64.shl (i64.extend_i32_s (i32.load (i32.add (local.get $gq) (i32.shl (local.get $i) (i32.const 2))))) (i64.const 24))
          (i64.const 1)))
        (local.set $k (local.get $from))
        (loop $fl
          (local.set $f (i32.load (i32.add (local.get $feats) (i32.shl (local.get $k) (i32.const 2)))))
          (local.set $b (i32.add (i32.add (local.get $hist) (i32.shl (local.get $f) (i32.const 11)))
            (i32.shl (i32.load8_u (i32.add (local.get $o) (local.get $f))) (i32.const 3))))
          (i64.store (local.get $b) (i64.add (i64.load (local.get $b)) (local.get $v)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $fl (i32.lt_s (local.get $k) (local.get $to))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $rows (i32.lt_s (local.get $i) (local.get $end))))))
  ;; dst[i] -= src[i] for n i64 bins (sibling = parent - smaller child, in place).
  (func (export "histSubtract") (param $dst i32) (param $src i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 3))))
    (block $done
      (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
      (loop $l
        (i64.store (local.get $dst) (i64.sub (i64.load (local.get $dst)) (i64.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
        (local.set $src (i32.add (local.get $src) (i32.const 8)))
        (br_if $l (i32.lt_u (local.get $dst) (local.get $end))))))

  ;; Bins n float32 values laid out row-major with nf features per row (n a multiple of nf) into
  ;; u8 bins at $out: 0 for NaN, else 1 + the number of upper edges < v. $table holds nf x 256
  ;; f32 upper edges per feature, padded with +Infinity, so 8 fixed steps with `select` find the
  ;; bin without branches.
  (func (export "binValues") (param $vals i32) (param $n i32) (param $nf i32) (param $table i32) (param $out i32)
    (local $i i32) (local $f i32) (local $v f32) (local $base i32) (local $pos i32)
    (block $done
      (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
      (loop $l
        (local.set $v (f32.load (i32.add (local.get $vals) (i32.shl (local.get $i) (i32.const 2)))))
        (if (f32.ne (local.get $v) (local.get $v))
          (then (i32.store8 (i32.add (local.get $out) (local.get $i)) (i32.const 0)))
          (else
            (local.set $base (i32.add (local.get $table) (i32.shl (local.get $f) (i32.const 10))))
            (local.set $pos (select (i32.const 128) (i32.const 0)
              (f32.lt (f32.load offset=508 (local.get $base)) (local.get $v))))
            (local.set $pos (i32.add (local.get $pos) (select (i32.const 64) (i32.const 0)
              (f32.lt (f32.load offset=252 (i32.add (local.get $base) (i32.shl (local.get $pos) (i32.const 2)))) (local.get $v)))))
            (local.set $pos (i32.add (local.get $pos) (select (i32.const 32) (i32.const 0)
              (f32.lt (f32.load offset=124 (i32.add (local.get $base) (i32.shl (local.get $pos) (i32.const 2)))) (local.get $v)))))
            (local.set $pos (i32.add (local.get $pos) (select (i32.const 16) (i32.const 0)
              (f32.lt (f32.load offset=60 (i32.add (local.get $base) (i32.shl (local.get $pos) (i32.const 2)))) (local.get $v)))))
            (local.set $pos (i32.add (local.get $pos) (select (i32.const 8) (i32.const 0)
              (f32.lt (f32.load offset=28 (i32.add (local.get $base) (i32.shl (local.get $pos) (i32.const 2)))) (local.get $v)))))
            (local.set $pos (i32.add (local.get $pos) (select (i32.const 4) (i32.const 0)
              (f32.lt (f32.load offset=12 (i32.add (local.get $base) (i32.shl (local.get $pos) (i32.const 2)))) (local.get $v)))))
            (local.set $pos (i32.add (local.get $pos) (select (i32.const 2) (i32.const 0)
              (f32.lt (f32.load offset=4 (i32.add (local.get $base) (i32.shl (local.get $pos) (i32.const 2)))) (local.get $v)))))
            (local.set $pos (i32.add (local.get $pos) (select (i32.const 1) (i32.const 0)
              (f32.lt (f32.load (i32.add (local.get $base) (i32.shl (local.get $pos) (i32.const 2)))) (local.get $v)))))
            (i32.store8 (i32.add (local.get $out) (local.get $i)) (i32.add (local.get $pos) (i32.const 1)))))
        (local.set $f (i32.add (local.get $f) (i32.const 1)))
        (if (i32.eq (local.get $f) (local.get $nf)) (then (local.set $f (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_s (local.get $i) (local.get $n))))))

  ;; dst row i = src row perm[i] for i in [start, end), rows of nf bytes: reorders the row-major
  ;; bins after a level's partition (perm[i] = the row's previous position; increasing within each
  ;; child, so the source is read as two forward streams).
  (func (export "gatherRows") (param $src i32) (param $dst i32) (param $perm i32) (param $start i32) (param $end i32) (param $nf i32)
    (local $i i32) (local $d i32) (local $s i32) (local $k i32) (local $k8 i32) (local $last i32)
    (if (i32.ge_s (local.get $nf) (i32.const 16))
      (then
        ;; 16-byte vectors, the last one ending at the row's end (overlapping the previous one):
        ;; ~1.5x faster than 8-byte words
        (local.set $last (i32.sub (local.get $nf) (i32.const 16)))
        (local.set $i (local.get $start))
        (block $done
          (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
          (loop $l
            (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $i) (local.get $nf))))
            (local.set $s (i32.add (local.get $src) (i32.mul (i32.load (i32.add (local.get $perm) (i32.shl (local.get $i) (i32.const 2)))) (local.get $nf))))
            (local.set $k (i32.const 0))
            (block $vdone
              (br_if $vdone (i32.ge_u (local.get $k) (local.get $last)))
              (loop $v
                (v128.store (i32.add (local.get $d) (local.get $k)) (v128.load (i32.add (local.get $s) (local.get $k))))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br_if $v (i32.lt_u (local.get $k) (local.get $last)))))
            (v128.store (i32.add (local.get $d) (local.get $last)) (v128.load (i32.add (local.get $s) (local.get $last))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_s (local.get $i) (local.get $end)))))
        (return)))
    (if (i32.ge_s (local.get $nf) (i32.const 8))
      (then
        ;; the same with 8-byte words
        (local.set $last (i32.sub (local.get $nf) (i32.const 8)))
        (local.set $i (local.get $start))
        (block $done
          (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
          (loop $l
            (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $i) (local.get $nf))))
            (local.set $s (i32.add (local.get $src) (i32.mul (i32.load (i32.add (local.get $perm) (i32.shl (local.get $i) (i32.const 2)))) (local.get $nf))))
            (local.set $k (i32.const 0))
            (block $wdone
              (br_if $wdone (i32.ge_u (local.get $k) (local.get $last)))
              (loop $w
                (i64.store (i32.add (local.get $d) (local.get $k)) (i64.load (i32.add (local.get $s) (local.get $k))))
                (local.set $k (i32.add (local.get $k) (i32.const 8)))
                (br_if $w (i32.lt_u (local.get $k) (local.get $last)))))
            (i64.store (i32.add (local.get $d) (local.get $last)) (i64.load (i32.add (local.get $s) (local.get $last))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_s (local.get $i) (local.get $end)))))
        (return)))
    ;; narrower rows: whole 8-byte words, then the tail bytes (memory.copy is a runtime call: slow for ~100 bytes)
    (local.set $k8 (i32.and (local.get $nf) (i32.const -8)))
    (local.set $i (local.get $start))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
      (loop $l
        (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $i) (local.get $nf))))
        (local.set $s (i32.add (local.get $src) (i32.mul (i32.load (i32.add (local.get $perm) (i32.shl (local.get $i) (i32.const 2)))) (local.get $nf))))
        (local.set $k (i32.const 0))
        (block $wdone
          (br_if $wdone (i32.ge_u (local.get $k) (local.get $k8)))
          (loop $w
            (i64.store (i32.add (local.get $d) (local.get $k)) (i64.load (i32.add (local.get $s) (local.get $k))))
            (local.set $k (i32.add (local.get $k) (i32.const 8)))
            (br_if $w (i32.lt_u (local.get $k) (local.get $k8)))))
        (block $bdone
          (br_if $bdone (i32.ge_u (local.get $k) (local.get $nf)))
          (loop $b
            (i32.store8 (i32.add (local.get $d) (local.get $k)) (i32.load8_u (i32.add (local.get $s) (local.get $k))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $b (i32.lt_u (local.get $k) (local.get $nf)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_s (local.get $i) (local.get $end))))))

  ;; Stable partition of positions [s, e) by one split, on column-major bins ($col = the split
  ;; feature's column, indexed by row id): left = bin 0 (missing) ? missLeft : bin <= $bin.
  ;; Moves row ids, f64 gradients, quantised gradients and records perm (previous position); with
  ;; $rowsOnly (children are leaves) only row ids move. Right-hand rows go through the tmp arrays.
  ;; Writes the left part's f64 gradient sum at $out and its quantised sum (as f64) at $out+8;
  ;; returns the first position of the right part.
  (func (export "partition")
    (param $col i32) (param $bin i32) (param $missLeft i32) (param $s i32) (param $e i32) (param $rowsOnly i32)
    (param $rowIdx i32) (param $grad i32) (param $gq i32) (param $perm i32)
    (param $tIdx i32) (param $tGrad i32) (param $tQ i32) (param $tPerm i32) (param $out i32)
    (result i32)
    (local $i i32) (local $w i32) (local $t i32) (local $r i32) (local $b i32) (local $g f64) (local $q i32)
    (local $gl f64) (local $ql i64)
    (local.set $i (local.get $s))
    (local.set $w (local.get $s))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $e)))
      (loop $l
        (local.set $r (i32.load (i32.add (local.get $rowIdx) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $b (i32.load8_u (i32.add (local.get $col) (local.get $r))))
        (local.set $g (f64.load (i32.add (local.get $grad) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $q (i32.load (i32.add (local.get $gq) (i32.shl (local.get $i) (i32.const 2)))))
        (if (select (local.get $missLeft) (i32.le_u (local.get $b) (local.get $bin)) (i32.eqz (local.get $b)))
          (then
            (i32.store (i32.add (local.get $rowIdx) (i32.shl (local.get $w) (i32.const 2))) (local.get $r))
            (if (i32.eqz (local.get $rowsOnly))
              (then
                (f64.store (i32.add (local.get $grad) (i32.shl (local.get $w) (i32.const 3))) (local.get $g))
                (i32.store (i32.add (local.get $gq) (i32.shl (local.get $w) (i32.const 2))) (local.get $q))
                (i32.store (i32.add (local.get $perm) (i32.shl (local.get $w) (i32.const 2))) (local.get $i))))
            (local.set $gl (f64.add (local.get $gl) (local.get $g)))
            (local.set $ql (i64.add (local.get $ql) (i64.extend_i32_s (local.get $q))))
            (local.set $w (i32.add (local.get $w) (i32.const 1))))
          (else
            (i32.store (i32.add (local.get $tIdx) (i32.shl (local.get $t) (i32.const 2))) (local.get $r))
            (if (i32.eqz (local.get $rowsOnly))
              (then
                (f64.store (i32.add (local.get $tGrad) (i32.shl (local.get $t) (i32.const 3))) (local.get $g))
                (i32.store (i32.add (local.get $tQ) (i32.shl (local.get $t) (i32.const 2))) (local.get $q))
                (i32.store (i32.add (local.get $tPerm) (i32.shl (local.get $t) (i32.const 2))) (local.get $i))))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_s (local.get $i) (local.get $e)))))
    (memory.copy (i32.add (local.get $rowIdx) (i32.shl (local.get $w) (i32.const 2))) (local.get $tIdx) (i32.shl (local.get $t) (i32.const 2)))
    (if (i32.eqz (local.get $rowsOnly))
      (then
        (memory.copy (i32.add (local.get $grad) (i32.shl (local.get $w) (i32.const 3))) (local.get $tGrad) (i32.shl (local.get $t) (i32.const 3)))
        (memory.copy (i32.add (local.get $gq) (i32.shl (local.get $w) (i32.const 2))) (local.get $tQ) (i32.shl (local.get $t) (i32.const 2)))
        (memory.copy (i32.add (local.get $perm) (i32.shl (local.get $w) (i32.const 2))) (local.get $tPerm) (i32.shl (local.get $t) (i32.const 2)))))
    (f64.store (local.get $out) (local.get $gl))
    (f64.store offset=8 (local.get $out) (f64.convert_i64_s (local.get $ql)))
    (local.get $w))
  ;; dst row i = the $width bytes of src row i, for i in [0, n): rows of $srcStride bytes in, $dstStride
  ;; bytes out (splits row-major bins into the per-thread feature groups).
  (func (export "copyCols") (param $src i32) (param $srcStride i32) (param $dst i32) (param $dstStride i32) (param $width i32) (param $n i32)
    (local $i i32) (local $k i32) (local $k8 i32)
    (local.set $k8 (i32.and (local.get $width) (i32.const -8)))
    (block $done
      (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
      (loop $l
        (local.set $k (i32.const 0))
        (block $wdone
          (br_if $wdone (i32.ge_u (local.get $k) (local.get $k8)))
          (loop $w
            (i64.store (i32.add (local.get $dst) (local.get $k)) (i64.load (i32.add (local.get $src) (local.get $k))))
            (local.set $k (i32.add (local.get $k) (i32.const 8)))
            (br_if $w (i32.lt_u (local.get $k) (local.get $k8)))))
        (block $bdone
          (br_if $bdone (i32.ge_u (local.get $k) (local.get $width)))
          (loop $b
            (i32.store8 (i32.add (local.get $dst) (local.get $k)) (i32.load8_u (i32.add (local.get $src) (local.get $k))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $b (i32.lt_u (local.get $k) (local.get $width)))))
        (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
        (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_s (local.get $i) (local.get $n))))))

  ;; Column-major copy of n row-major rows of nf bins: dst[f * dstStride + r] = src[r * nf + f].
  (func (export "transposeRows") (param $src i32) (param $nf i32) (param $n i32) (param $dst i32) (param $dstStride i32)
    (local $f i32) (local $s i32) (local $d i32) (local $de i32)
    (block $done
      (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
      (br_if $done (i32.le_s (local.get $nf) (i32.const 0)))
      (loop $fl
        (local.set $s (i32.add (local.get $src) (local.get $f)))
        (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $f) (local.get $dstStride))))
        (local.set $de (i32.add (local.get $d) (local.get $n)))
        (loop $rl
          (i32.store8 (local.get $d) (i32.load8_u (local.get $s)))
          (local.set $s (i32.add (local.get $s) (local.get $nf)))
          (local.set $d (i32.add (local.get $d) (i32.const 1)))
          (br_if $rl (i32.lt_u (local.get $d) (local.get $de))))
        (local.set $f (i32.add (local.get $f) (i32.const 1)))
        (br_if $fl (i32.lt_s (local.get $f) (local.get $nf))))))

  ;; Ridge's Gram update (train/ridge.ts): for a block of rows held column-major as f64 (column a
  ;; at $z + a * $stride bytes; $stride a multiple of 16, rows past the block's end zero), adds
  ;; Z'Z into the row-major f64 matrix at $g ([kp, kp], kp even, padding columns zero). It walks
  ;; 2 x 2 tiles with a <= c, so it writes the upper triangle and the diagonal tiles whole, two rows
  ;; per lane pair: four dot products per pass share their four loads.
  (func (export "gramUpper") (param $z i32) (param $stride i32) (param $kp i32) (param $g i32)
    (local $a i32) (local $c i32) (local $pa i32) (local $pb i32) (local $pc i32) (local $pd i32)
    (local $o i32) (local $ga i32)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $va v128) (local $vb v128) (local $vc v128) (local $vd v128)
    (block $done
      (br_if $done (i32.le_s (local.get $kp) (i32.const 0)))
      (br_if $done (i32.le_s (local.get $stride) (i32.const 0)))
      (loop $al
        (local.set $pa (i32.add (local.get $z) (i32.mul (local.get $a) (local.get $stride))))
        (local.set $pb (i32.add (local.get $pa) (local.get $stride)))
        (local.set $c (local.get $a))
        (loop $cl
          (local.set $pc (i32.add (local.get $z) (i32.mul (local.get $c) (local.get $stride))))
          (local.set $pd (i32.add (local.get $pc) (local.get $stride)))
          (local.set $s00 (v128.const f64x2 0 0))
          (local.set $s01 (v128.const f64x2 0 0))
          (local.set $s10 (v128.const f64x2 0 0))
          (local.set $s11 (v128.const f64x2 0 0))
          (local.set $o (i32.const 0))
          (loop $rl
            (local.set $va (v128.load (i32.add (local.get $pa) (local.get $o))))
            (local.set $vb (v128.load (i32.add (local.get $pb) (local.get $o))))
            (local.set $vc (v128.load (i32.add (local.get $pc) (local.get $o))))
            (local.set $vd (v128.load (i32.add (local.get $pd) (local.get $o))))
            (local.set $s00 (f64x2.add (local.get $s00) (f64x2.mul (local.get $va) (local.get $vc))))
            (local.set $s01 (f64x2.add (local.get $s01) (f64x2.mul (local.get $va) (local.get $vd))))
            (local.set $s10 (f64x2.add (local.get $s10) (f64x2.mul (local.get $vb) (local.get $vc))))
            (local.set $s11 (f64x2.add (local.get $s11) (f64x2.mul (local.get $vb) (local.get $vd))))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (br_if $rl (i32.lt_u (local.get $o) (local.get $stride))))
          (local.set $ga (i32.add (local.get $g) (i32.shl (i32.add (i32.mul (local.get $a) (local.get $kp)) (local.get $c)) (i32.const 3))))
          (f64.store (local.get $ga) (f64.add (f64.load (local.get $ga))
            (f64.add (f64x2.extract_lane 0 (local.get $s00)) (f64x2.extract_lane 1 (local.get $s00)))))
          (f64.store offset=8 (local.get $ga) (f64.add (f64.load offset=8 (local.get $ga))
            (f64.add (f64x2.extract_lane 0 (local.get $s01)) (f64x2.extract_lane 1 (local.get $s01)))))
          (local.set $ga (i32.add (local.get $ga) (i32.shl (local.get $kp) (i32.const 3))))
          (f64.store (local.get $ga) (f64.add (f64.load (local.get $ga))
            (f64.add (f64x2.extract_lane 0 (local.get $s10)) (f64x2.extract_lane 1 (local.get $s10)))))
          (f64.store offset=8 (local.get $ga) (f64.add (f64.load offset=8 (local.get $ga))
            (f64.add (f64x2.extract_lane 0 (local.get $s11)) (f64x2.extract_lane 1 (local.get $s11)))))
          (local.set $c (i32.add (local.get $c) (i32.const 2)))
          (br_if $cl (i32.lt_s (local.get $c) (local.get $kp))))
        (local.set $a (i32.add (local.get $a) (i32.const 2)))
        (br_if $al (i32.lt_s (local.get $a) (local.get $kp))))))
)
