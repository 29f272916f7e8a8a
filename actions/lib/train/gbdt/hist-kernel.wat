;; Training kernels (wasm32, shared memory): quantile binning, node partitioning, gradient
;; histograms and the split search for the gbdt, and the Gram update of ridge. `npm run
;; build:wasm` assembles it with wabt (threads + bulk memory + simd) into WASM_BASE64 in hist-kernel.mjs; test/gbdt-kernel.test.ts checks the two agree.
;;
;; Row-major bins are kept per feature group (one matrix [rows, group width] each, by row id, handled
;; by one thread at a time; `nf` below is then the group's width). The histogram loops read a node's
;; rows where they are, through the partition's row ids ($idx; 0: positions are row ids, the root of
;; all rows): a stable partition keeps each node's row ids ascending, so the reads move forward. (Rows
;; were once gathered into partition order per level: ~16% more training CPU at 365 days, since every
;; row of a split node was copied while only the smaller child's rows are read.)
;;
;; A histogram bin is one i64: (sum of quantised gradients << 24) + row count. One integer add per
;; (row, feature) updates both, sums are exact (independent of order), and a node's histogram is
;; 8 bytes x 256 bins per feature. Feature f's bins start at hist + f * 2048.
(module
  (import "env" "memory" (memory 1 65536 shared))
  ;; Partition positions [start, end) over features f0..f1 of the row-major bins [rows, nf]: row
  ;; i32 $idx[i] ($idx 0: row i); gq = i32 quantised gradients by position.
  (func (export "histContiguous")
    (param $bins i32) (param $nf i32) (param $gq i32) (param $hist i32)
    (param $start i32) (param $end i32) (param $f0 i32) (param $f1 i32) (param $idx i32)
    (local $i i32) (local $j i32) (local $je i32) (local $hb i32) (local $v i64) (local $b i32) (local $o i32)
    (local.set $i (local.get $start))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
      (br_if $done (i32.ge_s (local.get $f0) (local.get $f1)))
      (loop $rows
        (local.set $o (i32.add (local.get $bins) (i32.mul (if (result i32) (local.get $idx) (then (i32.load (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2))))) (else (local.get $i))) (local.get $nf))))
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
    (param $start i32) (param $end i32) (param $feats i32) (param $from i32) (param $to i32) (param $idx i32)
    (local $i i32) (local $k i32) (local $f i32) (local $v i64) (local $b i32) (local $o i32)
    (local.set $i (local.get $start))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
      (br_if $done (i32.ge_s (local.get $from) (local.get $to)))
      (loop $rows
        (local.set $o (i32.add (local.get $bins) (i32.mul (if (result i32) (local.get $idx) (then (i32.load (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2))))) (else (local.get $i))) (local.get $nf))))
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
  ;; histContiguous with rows two at a time (the last alone when the count is odd): both rows' bins
  ;; are read before either is written (the second adds to the first's new sum when they hit the
  ;; same bin), so rows in one bin of a low-cardinality feature wait on half as many stores.
  ;; Measured on 49 features: ~45% faster on a mix of 2, 7, 24 and 255-value features, 0-5% slower
  ;; on continuous ones; on 8 or 16 features no gain on either, so hist-kernel.mjs uses it from
  ;; PAIR_MIN_FEATURES features built at a time. (Unrolling four features per row with one 4-byte
  ;; bins load measured no faster.)
  (func (export "histContiguousPairs")
    (param $bins i32) (param $nf i32) (param $gq i32) (param $hist i32)
    (param $start i32) (param $end i32) (param $f0 i32) (param $f1 i32) (param $idx i32)
    (local $i i32) (local $j i32) (local $je i32) (local $hb i32) (local $v i64) (local $b i32) (local $o i32)
    (local $v1 i64) (local $b1 i32) (local $y i64) (local $x1 i64) (local $d1 i32)
    (local.set $i (local.get $start))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
      (br_if $done (i32.ge_s (local.get $f0) (local.get $f1)))
      ;; two rows at a time: both bins are read before either is written, so a run of rows in the
      ;; same bin (a low-cardinality feature) is half as long a store-to-load chain
      (block $pairs
        (br_if $pairs (i32.ge_s (i32.add (local.get $i) (i32.const 1)) (local.get $end)))
        (loop $rows2
          (local.set $o (i32.add (local.get $bins) (i32.mul (if (result i32) (local.get $idx) (then (i32.load (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2))))) (else (local.get $i))) (local.get $nf))))
          (local.set $v (i64.or
            (i64.shl (i64.extend_i32_s (i32.load (i32.add (local.get $gq) (i32.shl (local.get $i) (i32.const 2))))) (i64.const 24))
            (i64.const 1)))
          (local.set $d1 (i32.sub (i32.add (local.get $bins) (i32.mul (if (result i32) (local.get $idx) (then (i32.load offset=4 (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2))))) (else (i32.add (local.get $i) (i32.const 1)))) (local.get $nf))) (local.get $o)))
          (local.set $v1 (i64.or
            (i64.shl (i64.extend_i32_s (i32.load offset=4 (i32.add (local.get $gq) (i32.shl (local.get $i) (i32.const 2))))) (i64.const 24))
            (i64.const 1)))
          (local.set $j (i32.add (local.get $o) (local.get $f0)))
          (local.set $je (i32.add (local.get $o) (local.get $f1)))
          (local.set $hb (i32.add (local.get $hist) (i32.shl (local.get $f0) (i32.const 11))))
          (loop $feats2
            (local.set $b (i32.add (local.get $hb) (i32.shl (i32.load8_u (local.get $j)) (i32.const 3))))
            (local.set $b1 (i32.add (local.get $hb) (i32.shl (i32.load8_u (i32.add (local.get $j) (local.get $d1))) (i32.const 3))))
            (local.set $y (i64.add (i64.load (local.get $b)) (local.get $v)))
            (local.set $x1 (i64.load (local.get $b1)))
            (i64.store (local.get $b) (local.get $y))
            ;; the same bin: the second row adds to the first's sum
            (i64.store (local.get $b1) (i64.add
              (select (local.get $y) (local.get $x1) (i32.eq (local.get $b) (local.get $b1)))
              (local.get $v1)))
            (local.set $hb (i32.add (local.get $hb) (i32.const 2048)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $feats2 (i32.lt_u (local.get $j) (local.get $je))))
          (local.set $i (i32.add (local.get $i) (i32.const 2)))
          (br_if $rows2 (i32.lt_s (i32.add (local.get $i) (i32.const 1)) (local.get $end)))))
      ;; the last row when the count is odd
      (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
      (loop $rows
        (local.set $o (i32.add (local.get $bins) (i32.mul (if (result i32) (local.get $idx) (then (i32.load (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2))))) (else (local.get $i))) (local.get $nf))))
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
  ;; histListed with rows in pairs, as above.
  (func (export "histListedPairs")
    (param $bins i32) (param $nf i32) (param $gq i32) (param $hist i32)
    (param $start i32) (param $end i32) (param $feats i32) (param $from i32) (param $to i32) (param $idx i32)
    (local $i i32) (local $k i32) (local $f i32) (local $v i64) (local $b i32) (local $o i32)
    (local $v1 i64) (local $b1 i32) (local $y i64) (local $x1 i64) (local $d1 i32) (local $hb i32)
    (local.set $i (local.get $start))
    (block $done
      (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
      (br_if $done (i32.ge_s (local.get $from) (local.get $to)))
      (block $pairs
        (br_if $pairs (i32.ge_s (i32.add (local.get $i) (i32.const 1)) (local.get $end)))
        (loop $rows2
          (local.set $o (i32.add (local.get $bins) (i32.mul (if (result i32) (local.get $idx) (then (i32.load (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2))))) (else (local.get $i))) (local.get $nf))))
          (local.set $v (i64.or
            (i64.shl (i64.extend_i32_s (i32.load (i32.add (local.get $gq) (i32.shl (local.get $i) (i32.const 2))))) (i64.const 24))
            (i64.const 1)))
          (local.set $d1 (i32.sub (i32.add (local.get $bins) (i32.mul (if (result i32) (local.get $idx) (then (i32.load offset=4 (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2))))) (else (i32.add (local.get $i) (i32.const 1)))) (local.get $nf))) (local.get $o)))
          (local.set $v1 (i64.or
            (i64.shl (i64.extend_i32_s (i32.load offset=4 (i32.add (local.get $gq) (i32.shl (local.get $i) (i32.const 2))))) (i64.const 24))
            (i64.const 1)))
          (local.set $k (local.get $from))
          (loop $fl2
            (local.set $f (i32.load (i32.add (local.get $feats) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $hb (i32.add (local.get $hist) (i32.shl (local.get $f) (i32.const 11))))
            (local.set $b (i32.add (local.get $hb) (i32.shl (i32.load8_u (i32.add (local.get $o) (local.get $f))) (i32.const 3))))
            (local.set $b1 (i32.add (local.get $hb)
              (i32.shl (i32.load8_u (i32.add (i32.add (local.get $o) (local.get $d1)) (local.get $f))) (i32.const 3))))
            (local.set $y (i64.add (i64.load (local.get $b)) (local.get $v)))
            (local.set $x1 (i64.load (local.get $b1)))
            (i64.store (local.get $b) (local.get $y))
            (i64.store (local.get $b1) (i64.add
              (select (local.get $y) (local.get $x1) (i32.eq (local.get $b) (local.get $b1)))
              (local.get $v1)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $fl2 (i32.lt_s (local.get $k) (local.get $to))))
          (local.set $i (i32.add (local.get $i) (i32.const 2)))
          (br_if $rows2 (i32.lt_s (i32.add (local.get $i) (i32.const 1)) (local.get $end)))))
      (br_if $done (i32.ge_s (local.get $i) (local.get $end)))
      (loop $rows
        (local.set $o (i32.add (local.get $bins) (i32.mul (if (result i32) (local.get $idx) (then (i32.load (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2))))) (else (local.get $i))) (local.get $nf))))
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

  ;; Stable partition of positions [s, e) by one split, on column-major bins ($col = the split
  ;; feature's column, indexed by row id): left = bin 0 (missing) ? missLeft : bin <= $bin.
  ;; Moves row ids, f64 gradients and quantised gradients; with
  ;; $rowsOnly (children are leaves) only row ids move. Right-hand rows go through the tmp arrays.
  ;; Writes the left part's f64 gradient sum at $out and its quantised sum (as f64) at $out+8;
  ;; returns the first position of the right part.
  (func (export "partition")
    (param $col i32) (param $bin i32) (param $missLeft i32) (param $s i32) (param $e i32) (param $rowsOnly i32)
    (param $rowIdx i32) (param $grad i32) (param $gq i32)
    (param $tIdx i32) (param $tGrad i32) (param $tQ i32) (param $out i32)
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
                (i32.store (i32.add (local.get $gq) (i32.shl (local.get $w) (i32.const 2))) (local.get $q))))
            (local.set $gl (f64.add (local.get $gl) (local.get $g)))
            (local.set $ql (i64.add (local.get $ql) (i64.extend_i32_s (local.get $q))))
            (local.set $w (i32.add (local.get $w) (i32.const 1))))
          (else
            (i32.store (i32.add (local.get $tIdx) (i32.shl (local.get $t) (i32.const 2))) (local.get $r))
            (if (i32.eqz (local.get $rowsOnly))
              (then
                (f64.store (i32.add (local.get $tGrad) (i32.shl (local.get $t) (i32.const 3))) (local.get $g))
                (i32.store (i32.add (local.get $tQ) (i32.shl (local.get $t) (i32.const 2))) (local.get $q))))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_s (local.get $i) (local.get $e)))))
    (memory.copy (i32.add (local.get $rowIdx) (i32.shl (local.get $w) (i32.const 2))) (local.get $tIdx) (i32.shl (local.get $t) (i32.const 2)))
    (if (i32.eqz (local.get $rowsOnly))
      (then
        (memory.copy (i32.add (local.get $grad) (i32.shl (local.get $w) (i32.const 3))) (local.get $tGrad) (i32.shl (local.get $t) (i32.const 3)))
        (memory.copy (i32.add (local.get $gq) (i32.shl (local.get $w) (i32.const 2))) (local.get $tQ) (i32.shl (local.get $t) (i32.const 2)))))
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

  ;; findSplit's filter threshold for the best gain so far: T = bestGain / toLoss + parent, lowered
  ;; by (|T| + parent) 2^-36 (the scale of the roundings in a gain is |T| + parent for candidates
  ;; near it); -infinity (every candidate computed exactly) when that is not finite (toLoss 0 or
  ;; subnormal).
  (func $splitThreshold (param $bestGain f64) (param $toLoss f64) (param $parent f64) (result f64)
    (local $t f64)
    (local.set $t (f64.add (f64.div (local.get $bestGain) (local.get $toLoss)) (local.get $parent)))
    (local.set $t (f64.sub (local.get $t)
      (f64.mul (f64.add (f64.abs (local.get $t)) (local.get $parent)) (f64.const 0x1p-36))))
    (if (result f64) (f64.eq (f64.sub (local.get $t) (local.get $t)) (f64.const 0))
      (then (local.get $t))
      (else (f64.const -inf))))

  ;; Best split of a node over features f0 + local[k], k < n (i32 at $local, ascending), from its
  ;; histograms (feature f's 256 bins at $hist + f * 2048; bin 0 holds the missing values, value
  ;; bins 1..binCount[f] - 1, binCount i32 per feature at $binCount). For each feature and bin
  ;; boundary j (values in bins <= j go left), missing values are tried right, then left; at the last
  ;; bin that is "all values left, missing right". A boundary after an empty bin (but the last) is
  ;; the previous boundary's split again and is skipped. Both children need >= $msl rows ($H = the
  ;; node's rows); the gain, from the node's quantised sum $Q, in loss units with $scale:
  ;;   0.5 / scale^2 * (qL^2 / (hL + l2) + qR^2 / (hR + l2) - Q^2 / (H + l2)).
  ;; The first candidate with the largest gain > $minGain wins (ties: the earlier feature, bin,
  ;; missing right). Writes f64 (gain, feature, bin, missingLeft) at $out; feature -1 (gain
  ;; $minGain) when none. Without missing values in the node, missingLeft says the left child is the
  ;; larger (unseen NaNs follow it). Integer sums are exact; the f64 arithmetic is the same
  ;; operations in the same order for every candidate, so gains and ties are reproducible.
  ;;
  ;; The two divisions per candidate bound the scan, so a candidate is first compared without
  ;; them: its gain can beat bestGain only if qL^2 / dL + qR^2 / dR >= bestGain / toLoss + parent
  ;; (dL = hL + l2, dR = hR + l2 > 0), i.e. qL^2 dR + qR^2 dL >= (bestGain / toLoss + parent) dL dR.
  ;; The threshold is lowered by 2^-36 of its scale (see $splitThreshold), far more than the few
  ;; roundings (~2^-53 each) on either side, so a candidate the filter drops has a computed gain
  ;; below bestGain and the exact comparison, which every other candidate gets, picks the same split.
  (func (export "findSplit")
    (param $hist i32) (param $binCount i32) (param $local i32) (param $n i32) (param $f0 i32)
    (param $Q f64) (param $H i32) (param $scale f64) (param $l2 f64) (param $msl i32) (param $minGain f64)
    (param $out i32)
    (local $toLoss f64) (local $parent f64) (local $bestGain f64) (local $thr f64) (local $bestF i32) (local $bestBin i32) (local $bestML i32)
    (local $span i32) (local $k i32) (local $f i32) (local $off i32) (local $nv i32) (local $m i64) (local $hm i32) (local $qm i64)
    (local $j i32) (local $v i64) (local $c i32) (local $hl i32) (local $ql i64)
    (local $hR i32) (local $qLf f64) (local $qRf f64) (local $dL f64) (local $dR f64) (local $gain f64)
    (local $v1 i64) (local $hl0 i32) (local $hl1 i32) (local $ql0 i64) (local $ql1 i64)
    (local $hv v128) (local $hmv v128) (local $mslv v128) (local $spanv v128) (local $range v128) (local $pass v128)
    (local $hlf v128) (local $qlf v128) (local $thrv v128) (local $dLv v128) (local $dRv v128) (local $qRv v128)
    (local $l2v v128) (local $Hf v128) (local $Qv v128) (local $hmf v128) (local $qmf v128)
    (local.set $toLoss (f64.div (f64.const 0.5) (f64.mul (local.get $scale) (local.get $scale))))
    (local.set $parent (f64.div (f64.mul (local.get $Q) (local.get $Q)) (f64.add (f64.convert_i32_s (local.get $H)) (local.get $l2))))
    (local.set $bestGain (local.get $minGain))
    (local.set $thr (call $splitThreshold (local.get $bestGain) (local.get $toLoss) (local.get $parent)))
    (local.set $bestF (i32.const -1))
    ;; both children have >= msl rows: hL - msl in [0, H - 2 msl] (unsigned), and none when H < 2 msl
    (local.set $span (i32.sub (local.get $H) (i32.shl (local.get $msl) (i32.const 1))))
    (local.set $mslv (i32x4.splat (local.get $msl)))
    (local.set $spanv (i32x4.splat (local.get $span)))
    (local.set $l2v (f64x2.splat (local.get $l2)))
    (local.set $Hf (f64x2.splat (f64.convert_i32_s (local.get $H))))
    (local.set $Qv (f64x2.splat (local.get $Q)))
    (block $fdone
      (br_if $fdone (i32.le_s (local.get $n) (i32.const 0)))
      (br_if $fdone (i32.lt_s (local.get $span) (i32.const 0)))
      (loop $fl
        (local.set $f (i32.add (local.get $f0) (i32.load (i32.add (local.get $local) (i32.shl (local.get $k) (i32.const 2))))))
        (local.set $off (i32.add (local.get $hist) (i32.shl (local.get $f) (i32.const 11))))
        (local.set $nv (i32.sub (i32.load (i32.add (local.get $binCount) (i32.shl (local.get $f) (i32.const 2)))) (i32.const 1)))
        (local.set $m (i64.load (local.get $off)))
        (local.set $hm (i32.and (i32.wrap_i64 (local.get $m)) (i32.const 0xffffff)))
        (local.set $qm (i64.shr_s (local.get $m) (i64.const 24)))
        (local.set $hmv (i32x4.replace_lane 3 (i32x4.replace_lane 2 (v128.const i32x4 0 0 0 0) (local.get $hm)) (local.get $hm)))
        (local.set $hmf (f64x2.splat (f64.convert_i32_s (local.get $hm))))
        (local.set $qmf (f64x2.splat (f64.convert_i64_s (local.get $qm))))
        (local.set $hl (i32.const 0))
        (local.set $ql (i64.const 0))
        ;; boundaries after value bins 1 .. nv - 1
        (local.set $j (i32.const 1))
        (block $bdone
          (br_if $bdone (i32.ge_s (local.get $j) (local.get $nv)))
          (loop $bl
            (block $next
              ;; Two boundaries at once, j and j + 1 (both before the last value bin): their up to four
              ;; candidates go through the filter below in f64x2 lanes, with the same operations in the
              ;; same order as the scalar filter (so the same results; integer sums are exact as f64),
              ;; and each lane masked by its min_samples_leaf range. When no candidate passes, neither
              ;; bin can change the best split and both are consumed; else bin j takes the scalar path.
              (block $slow
                (br_if $slow (i32.ge_s (i32.add (local.get $j) (i32.const 1)) (local.get $nv)))
                (local.set $v (i64.load (i32.add (local.get $off) (i32.shl (local.get $j) (i32.const 3)))))
                (local.set $v1 (i64.load offset=8 (i32.add (local.get $off) (i32.shl (local.get $j) (i32.const 3)))))
                (local.set $hl0 (i32.add (local.get $hl) (i32.and (i32.wrap_i64 (local.get $v)) (i32.const 0xffffff))))
                (local.set $hl1 (i32.add (local.get $hl0) (i32.and (i32.wrap_i64 (local.get $v1)) (i32.const 0xffffff))))
                (local.set $ql0 (i64.add (local.get $ql) (i64.shr_s (local.get $v) (i64.const 24))))
                (local.set $ql1 (i64.add (local.get $ql0) (i64.shr_s (local.get $v1) (i64.const 24))))
                ;; left counts [hl0, hl1, hl0 + hm, hl1 + hm]; in range: left - msl <= span (unsigned)
                (local.set $hv (i32x4.add
                  (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1 (i32x4.splat (local.get $hl0)) (local.get $hl1)) (local.get $hl0)) (local.get $hl1))
                  (local.get $hmv)))
                (local.set $range (i32x4.le_u (i32x4.sub (local.get $hv) (local.get $mslv)) (local.get $spanv)))
                (local.set $hlf (f64x2.convert_low_i32x4_s (local.get $hv)))
                (local.set $qlf (f64x2.replace_lane 1 (f64x2.splat (f64.convert_i64_s (local.get $ql0))) (f64.convert_i64_s (local.get $ql1))))
                (local.set $thrv (f64x2.splat (local.get $thr)))
                ;; missing values right
                (local.set $dLv (f64x2.add (local.get $hlf) (local.get $l2v)))
                (local.set $dRv (f64x2.add (f64x2.sub (local.get $Hf) (local.get $hlf)) (local.get $l2v)))
                (local.set $qRv (f64x2.sub (local.get $Qv) (local.get $qlf)))
                (local.set $pass (v128.and
                  (f64x2.ge
                    (f64x2.add (f64x2.mul (f64x2.mul (local.get $qlf) (local.get $qlf)) (local.get $dRv))
                               (f64x2.mul (f64x2.mul (local.get $qRv) (local.get $qRv)) (local.get $dLv)))
                    (f64x2.mul (f64x2.mul (local.get $thrv) (local.get $dLv)) (local.get $dRv)))
                  (i64x2.extend_low_i32x4_s (local.get $range))))
                ;; missing values left, when there are any
                (if (local.get $hm)
                  (then
                    (local.set $hlf (f64x2.add (local.get $hlf) (local.get $hmf)))
                    (local.set $qlf (f64x2.add (local.get $qlf) (local.get $qmf)))
                    (local.set $dLv (f64x2.add (local.get $hlf) (local.get $l2v)))
                    (local.set $dRv (f64x2.add (f64x2.sub (local.get $Hf) (local.get $hlf)) (local.get $l2v)))
                    (local.set $qRv (f64x2.sub (local.get $Qv) (local.get $qlf)))
                    (local.set $pass (v128.or (local.get $pass) (v128.and
                      (f64x2.ge
                        (f64x2.add (f64x2.mul (f64x2.mul (local.get $qlf) (local.get $qlf)) (local.get $dRv))
                                   (f64x2.mul (f64x2.mul (local.get $qRv) (local.get $qRv)) (local.get $dLv)))
                        (f64x2.mul (f64x2.mul (local.get $thrv) (local.get $dLv)) (local.get $dRv)))
                      (i64x2.extend_high_i32x4_s (local.get $range)))))))
                (br_if $slow (v128.any_true (local.get $pass)))
                (local.set $hl (local.get $hl1))
                (local.set $ql (local.get $ql1))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $next))
            (local.set $v (i64.load (i32.add (local.get $off) (i32.shl (local.get $j) (i32.const 3)))))
            (local.set $c (i32.and (i32.wrap_i64 (local.get $v)) (i32.const 0xffffff)))
              ;; an empty bin repeats the previous boundary's split
              (br_if $next (i32.eqz (local.get $c)))
              (local.set $hl (i32.add (local.get $hl) (local.get $c)))
              (local.set $ql (i64.add (local.get $ql) (i64.shr_s (local.get $v) (i64.const 24))))
              ;; missing values right (without any: unseen NaNs follow the larger child)
              (local.set $hR (i32.sub (local.get $H) (local.get $hl)))
              (if (i32.le_u (i32.sub (local.get $hl) (local.get $msl)) (local.get $span))
                (then
                  (local.set $qLf (f64.convert_i64_s (local.get $ql)))
                  (local.set $qRf (f64.sub (local.get $Q) (local.get $qLf)))
                  (local.set $dL (f64.add (f64.convert_i32_s (local.get $hl)) (local.get $l2)))
                  (local.set $dR (f64.add (f64.convert_i32_s (local.get $hR)) (local.get $l2)))
                  (if (f64.ge
                        (f64.add (f64.mul (f64.mul (local.get $qLf) (local.get $qLf)) (local.get $dR))
                                 (f64.mul (f64.mul (local.get $qRf) (local.get $qRf)) (local.get $dL)))
                        (f64.mul (f64.mul (local.get $thr) (local.get $dL)) (local.get $dR)))
                    (then
                      (local.set $gain (f64.mul (local.get $toLoss)
                        (f64.sub
                          (f64.add
                            (f64.div (f64.mul (local.get $qLf) (local.get $qLf)) (local.get $dL))
                            (f64.div (f64.mul (local.get $qRf) (local.get $qRf)) (local.get $dR)))
                          (local.get $parent))))
                      (if (f64.gt (local.get $gain) (local.get $bestGain))
                        (then
                          (local.set $bestGain (local.get $gain))
                          (local.set $thr (call $splitThreshold (local.get $bestGain) (local.get $toLoss) (local.get $parent)))
                          (local.set $bestF (local.get $f))
                          (local.set $bestBin (local.get $j))
                          (local.set $bestML (select (i32.ge_s (local.get $hl) (i32.sub (local.get $H) (local.get $hl))) (i32.const 0) (i32.eqz (local.get $hm))))))))))
              ;; missing values left, when there are any
              (br_if $next (i32.eqz (local.get $hm)))
              (local.set $hR (i32.sub (local.get $H) (i32.add (local.get $hl) (local.get $hm))))
              (if (i32.le_u (i32.sub (i32.add (local.get $hl) (local.get $hm)) (local.get $msl)) (local.get $span))
                (then
                  (local.set $qLf (f64.convert_i64_s (i64.add (local.get $ql) (local.get $qm))))
                  (local.set $qRf (f64.sub (local.get $Q) (local.get $qLf)))
                  (local.set $dL (f64.add (f64.convert_i32_s (i32.add (local.get $hl) (local.get $hm))) (local.get $l2)))
                  (local.set $dR (f64.add (f64.convert_i32_s (local.get $hR)) (local.get $l2)))
                  (if (f64.ge
                        (f64.add (f64.mul (f64.mul (local.get $qLf) (local.get $qLf)) (local.get $dR))
                                 (f64.mul (f64.mul (local.get $qRf) (local.get $qRf)) (local.get $dL)))
                        (f64.mul (f64.mul (local.get $thr) (local.get $dL)) (local.get $dR)))
                    (then
                      (local.set $gain (f64.mul (local.get $toLoss)
                        (f64.sub
                          (f64.add
                            (f64.div (f64.mul (local.get $qLf) (local.get $qLf)) (local.get $dL))
                            (f64.div (f64.mul (local.get $qRf) (local.get $qRf)) (local.get $dR)))
                          (local.get $parent))))
                      (if (f64.gt (local.get $gain) (local.get $bestGain))
                        (then
                          (local.set $bestGain (local.get $gain))
                          (local.set $thr (call $splitThreshold (local.get $bestGain) (local.get $toLoss) (local.get $parent)))
                          (local.set $bestF (local.get $f))
                          (local.set $bestBin (local.get $j))
                          (local.set $bestML (i32.const 1)))))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $bl (i32.lt_s (local.get $j) (local.get $nv)))))
        ;; the last value bin: all values left, missing values right (when there are any)
        (if (i32.and (i32.ge_s (local.get $nv) (i32.const 1)) (i32.ne (local.get $hm) (i32.const 0)))
          (then
            (local.set $j (local.get $nv))
            (local.set $v (i64.load (i32.add (local.get $off) (i32.shl (local.get $j) (i32.const 3)))))
            (local.set $hl (i32.add (local.get $hl) (i32.and (i32.wrap_i64 (local.get $v)) (i32.const 0xffffff))))
            (local.set $ql (i64.add (local.get $ql) (i64.shr_s (local.get $v) (i64.const 24))))
            (local.set $hR (i32.sub (local.get $H) (local.get $hl)))
            (if (i32.le_u (i32.sub (local.get $hl) (local.get $msl)) (local.get $span))
              (then
                (local.set $qLf (f64.convert_i64_s (local.get $ql)))
                (local.set $qRf (f64.sub (local.get $Q) (local.get $qLf)))
                (local.set $dL (f64.add (f64.convert_i32_s (local.get $hl)) (local.get $l2)))
                (local.set $dR (f64.add (f64.convert_i32_s (local.get $hR)) (local.get $l2)))
                (if (f64.ge
                      (f64.add (f64.mul (f64.mul (local.get $qLf) (local.get $qLf)) (local.get $dR))
                               (f64.mul (f64.mul (local.get $qRf) (local.get $qRf)) (local.get $dL)))
                      (f64.mul (f64.mul (local.get $thr) (local.get $dL)) (local.get $dR)))
                  (then
                    (local.set $gain (f64.mul (local.get $toLoss)
                      (f64.sub
                        (f64.add
                          (f64.div (f64.mul (local.get $qLf) (local.get $qLf)) (local.get $dL))
                          (f64.div (f64.mul (local.get $qRf) (local.get $qRf)) (local.get $dR)))
                        (local.get $parent))))
                    (if (f64.gt (local.get $gain) (local.get $bestGain))
                      (then
                        (local.set $bestGain (local.get $gain))
                        (local.set $thr (call $splitThreshold (local.get $bestGain) (local.get $toLoss) (local.get $parent)))
                        (local.set $bestF (local.get $f))
                        (local.set $bestBin (local.get $j))
                        (local.set $bestML (i32.const 0))))))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $fl (i32.lt_s (local.get $k) (local.get $n)))))
    (f64.store (local.get $out) (local.get $bestGain))
    (f64.store offset=8 (local.get $out) (f64.convert_i32_s (local.get $bestF)))
    (f64.store offset=16 (local.get $out) (f64.convert_i32_s (local.get $bestBin)))
    (f64.store offset=24 (local.get $out) (f64.convert_i32_s (local.get $bestML))))

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
