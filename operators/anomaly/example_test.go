package anomaly_test

import (
	"fmt"
	"math"

	"github.com/sluicehq/sluice/operators/anomaly"
)

// RANDOM_CUT_FOREST_WITH_EXPLANATION over a stream of (device, temp, load)
// rows, with the calibrated ANOMALY_PROBABILITY.
func ExampleNewRandomCutForestWithExplanation() {
	schema := anomaly.Schema{
		{Name: "device", Type: anomaly.TypeVarchar},
		{Name: "temp", Type: anomaly.TypeDouble},
		{Name: "load", Type: anomaly.TypeInteger},
	}
	op, err := anomaly.NewRandomCutForestWithExplanation(schema, anomaly.RCFParams{
		WithDirectionality: true, // KDA's sixth argument
		Probability:        true, // Sluice's calibrated output
		Seed:               1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := 0; i < 2000; i++ {
		temp := 20 + math.Sin(float64(i)/10)
		if _, err := op.Process(anomaly.Row{"d1", temp, int64(50 + i%7)}); err != nil {
			fmt.Println(err)
			return
		}
	}
	out, _ := op.Process(anomaly.Row{"d1", 27.0, int64(53)})
	score, prob := out[3].(float64), out[5].(float64)
	fmt.Println(op.OutputSchema()[3].Name, score > 2)
	fmt.Println(op.OutputSchema()[5].Name, prob > 0.99)

	_, err = op.Process(anomaly.Row{"d1", math.NaN(), int64(53)})
	fmt.Println(err != nil)
	// Output:
	// ANOMALY_SCORE true
	// ANOMALY_PROBABILITY true
	// true
}

// HOTSPOTS over 2-d points, with KDA's example parameters.
func ExampleNewHotspots() {
	schema := anomaly.Schema{{Name: "x", Type: anomaly.TypeDouble}, {Name: "y", Type: anomaly.TypeDouble}}
	op, err := anomaly.NewHotspots(schema, anomaly.HotspotsParams{
		WindowSize: 1000, ScanRadius: 0.2, MinimumNumberOfPointsInAHotspot: 17,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var out anomaly.Row
	for i := 0; i < 1000; i++ {
		x, y := float64(i%100), float64(i/100) // a sparse grid
		if i%5 == 0 {
			x, y = 50.5+float64(i%7)/100, 5.5+float64(i%11)/100 // a dense spot
		}
		out, _ = op.Process(anomaly.Row{x, y})
	}
	fmt.Println(out[2])
	// Output:
	// {"hotspots":[{"density":2316.5128205128026,"minValues":[50.5,5.5],"maxValues":[50.56,5.6]}]}
}
