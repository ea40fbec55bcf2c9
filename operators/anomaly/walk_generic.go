//go:build !amd64 || purego

package anomaly

func separationsImpl(t *tree, q []float64, n int32, out []float64) int {
	return separationsGo(t, q, n, out)
}
