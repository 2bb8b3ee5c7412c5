package personas

// Agreement compares two labellings of the same people: Purity is the share
// of people whose cluster's most common reference label is their own, ARI the
// adjusted Rand index (1 identical partitions, about 0 for chance).
type Agreement struct {
	People int
	Purity float64
	ARI    float64
}

// Compare measures how well clusters (person → cluster) recover reference
// (person → label), over the people present in both.
func Compare(clusters map[string]int, reference map[string]string) Agreement {
	table := map[int]map[string]int{}
	rowSum := map[int]int{}
	colSum := map[string]int{}
	n := 0
	for p, c := range clusters {
		l, ok := reference[p]
		if !ok {
			continue
		}
		if table[c] == nil {
			table[c] = map[string]int{}
		}
		table[c][l]++
		rowSum[c]++
		colSum[l]++
		n++
	}
	if n == 0 {
		return Agreement{}
	}
	pairs := func(x int) float64 { return float64(x) * float64(x-1) / 2 }
	var index, rows, cols float64
	pure := 0
	for _, ls := range table {
		top := 0
		for _, v := range ls {
			index += pairs(v)
			top = max(top, v)
		}
		pure += top
	}
	for _, v := range rowSum {
		rows += pairs(v)
	}
	for _, v := range colSum {
		cols += pairs(v)
	}
	expected := rows * cols / pairs(n)
	maxIndex := (rows + cols) / 2
	ari := 1.0
	if maxIndex != expected {
		ari = (index - expected) / (maxIndex - expected)
	}
	return Agreement{People: n, Purity: float64(pure) / float64(n), ARI: ari}
}
