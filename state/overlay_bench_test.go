package state

import (
	"testing"
)

// BenchmarkAppendDirty measures the synchronous part of a checkpoint's
// state overlay: encoding a full cache of dirty 100-byte values.
func BenchmarkAppendDirty(b *testing.B) {
	be, _ := NewBackend(NewMemStore(), Options{OperatorID: "op", CacheEntries: 1 << 18})
	vs, _ := NewValueState(be, "v", MustCodecFor[[]byte]())
	val := make([]byte, 100)
	for k := int64(0); k < 1<<18; k++ {
		setKey(be, k)
		_ = vs.Update(val)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := NewOverlayWriter()
		if err := be.AppendDirty(w); err != nil {
			b.Fatal(err)
		}
		ReleaseOverlay(w.Finish())
	}
	b.ReportMetric(float64(1<<18)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
