package subjects

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"presence"
	"presence/seal"
)

// Index holds every enrolled template, decrypted and quantised to int8
// (quantize.go), in one contiguous matrix for brute-force search: cosine
// similarity of unit vectors is their dot product, and the scan runs on
// the int8 codes (AVX2 where the CPU has it). Its similarities are
// approximate; callers re-rank its candidates exactly (Service.rerank).
// It is derived data: before each search it catches up with the
// store (templates inserted after the last one it saw, and the deletion
// log), so an enrolment or erasure on any node is seen by every node.
type Index struct {
	store  IndexStore
	sealer *seal.Sealer

	syncMu sync.Mutex // one catch-up at a time

	mu       sync.RWMutex
	dim      int
	codes    []int8    // row-major, dim values a row
	scales   []float32 // each row's scale: value = code * scale
	subjects []string  // subject of each row
	seqs     []int64   // template seq of each row
	row      map[int64]int
	lastSeq  int64
	lastDel  int64
}

// IndexStore is what the index reads to catch up.
type IndexStore interface {
	TemplatesSince(ctx context.Context, afterSeq int64, limit int) ([]presence.Template, error)
	DeletionsSince(ctx context.Context, afterSeq int64) (templateSeqs []int64, last int64, err error)
}

// NewIndex returns an empty index over a store.
func NewIndex(store IndexStore, sealer *seal.Sealer) *Index {
	return &Index{store: store, sealer: sealer, row: map[int64]int{}}
}

// syncPage is how many templates one catch-up query reads.
const syncPage = 2000

// syncLookback: PostgreSQL numbers rows when they are inserted, not when
// they commit, so an enrolment (or erasure) committing late can carry a
// number below one already seen. Every catch-up reads this many numbers
// back again; rows already held are skipped without being opened.
const syncLookback = 64

// Sync catches up with the store.
func (x *Index) Sync(ctx context.Context) error {
	x.syncMu.Lock()
	defer x.syncMu.Unlock()
	from := max(0, x.lastSeq-syncLookback)
	for {
		ts, err := x.store.TemplatesSince(ctx, from, syncPage)
		if err != nil {
			return err
		}
		for _, t := range ts {
			from = max(from, t.Seq)
			if x.has(t.Seq) {
				continue
			}
			e, err := x.sealer.OpenEmbedding(t.Sealed, t.SubjectID)
			if err != nil {
				return presence.WrapError(presence.ErrInternal, err, "template %d of %s does not open", t.Seq, t.SubjectID)
			}
			x.add(t.Seq, t.SubjectID, e)
		}
		if len(ts) < syncPage {
			break
		}
	}
	deleted, last, err := x.store.DeletionsSince(ctx, max(0, x.lastDel-syncLookback))
	if err != nil {
		return err
	}
	x.mu.Lock()
	for _, seq := range deleted {
		x.removeLocked(seq)
	}
	x.lastDel = max(x.lastDel, last)
	x.mu.Unlock()
	return nil
}

// has reports whether a template is held.
func (x *Index) has(seq int64) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.row[seq]
	return ok
}

// add appends a template (also used to fill benchmark indexes).
func (x *Index) add(seq int64, subject string, e presence.Embedding) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if seq > x.lastSeq {
		x.lastSeq = seq
	}
	if _, ok := x.row[seq]; ok {
		return
	}
	if x.dim == 0 {
		x.dim = len(e)
	}
	if len(e) != x.dim {
		return // a template of another model: never comparable
	}
	x.row[seq] = len(x.subjects)
	at := len(x.codes)
	x.codes = append(x.codes, make([]int8, x.dim)...)
	x.scales = append(x.scales, quantize(e, x.codes[at:]))
	x.subjects = append(x.subjects, subject)
	x.seqs = append(x.seqs, seq)
}

// removeLocked deletes a row by moving the last row into its place.
func (x *Index) removeLocked(seq int64) {
	i, ok := x.row[seq]
	if !ok {
		return
	}
	last := len(x.subjects) - 1
	if i != last {
		copy(x.codes[i*x.dim:(i+1)*x.dim], x.codes[last*x.dim:])
		x.scales[i] = x.scales[last]
		x.subjects[i], x.seqs[i] = x.subjects[last], x.seqs[last]
		x.row[x.seqs[i]] = i
	}
	x.codes, x.scales = x.codes[:last*x.dim], x.scales[:last]
	x.subjects, x.seqs = x.subjects[:last], x.seqs[:last]
	delete(x.row, seq)
}

// Len is the number of templates held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.subjects)
}

// Candidate is a subject and its best similarity to a probe (from the
// index: approximate to about 1e-3).
type Candidate struct {
	SubjectID  string  `json:"subject_id"`
	Similarity float64 `json:"similarity"`
}

// Search returns up to k subjects most similar to probe (best template per
// subject), skipping exclude. Rows are split across the CPUs; each part
// keeps only its best rows, enough to hold k distinct subjects even when
// each has the most templates allowed.
func (x *Index) Search(probe presence.Embedding, k int, exclude string) []Candidate {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.subjects)
	if n == 0 || k <= 0 || len(probe) != x.dim {
		return nil
	}
	keep := k * MaxTemplatesLimit
	q := make([]int8, x.dim)
	ps := quantize(probe, q)
	workers := min(runtime.GOMAXPROCS(0), max(1, n/2048))
	chunk := (n + workers - 1) / workers
	parts := make([][]scored, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var top topRows
			top.max = keep
			for i := lo; i < hi; i++ {
				if x.subjects[i] == exclude {
					continue
				}
				top.offer(scored{i, float32(dotInt8(q, x.codes[i*x.dim:(i+1)*x.dim])) * ps * x.scales[i]})
			}
			parts[w] = top.rows
		}()
	}
	wg.Wait()
	var all []scored
	for _, p := range parts {
		all = append(all, p...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].score > all[j].score })
	var out []Candidate
	seen := map[string]bool{}
	for _, r := range all {
		subj := x.subjects[r.row]
		if seen[subj] {
			continue
		}
		seen[subj] = true
		out = append(out, Candidate{SubjectID: subj, Similarity: float64(r.score)})
		if len(out) == k {
			break
		}
	}
	return out
}

type scored struct {
	row   int
	score float32
}

// topRows keeps the max best rows seen, worst first.
type topRows struct {
	max  int
	rows []scored
}

func (t *topRows) offer(r scored) {
	if len(t.rows) == t.max {
		if r.score <= t.rows[0].score {
			return
		}
		t.rows = t.rows[1:]
	}
	i := sort.Search(len(t.rows), func(i int) bool { return t.rows[i].score >= r.score })
	t.rows = append(t.rows, scored{})
	copy(t.rows[i+1:], t.rows[i:])
	t.rows[i] = r
}

// FillSynthetic adds n random unit templates (512 values, seeded) under
// subjects "synthetic-0".., for benchmarks of the search at sizes no dev
// set has; random 512-d vectors are nearly orthogonal, like different
// people's templates.
func FillSynthetic(x *Index, n int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	e := make(presence.Embedding, 512)
	for i := range n {
		for j := range e {
			e[j] = float32(r.NormFloat64())
		}
		e.Normalize()
		x.add(int64(i+1), fmt.Sprint("synthetic-", i), e)
	}
}
