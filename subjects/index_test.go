package subjects

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"presence"
	"presence/seal"
	"presence/sqlstore"
)

// randomTemplate is a random unit vector: random 512-d vectors are nearly
// orthogonal, like the templates of different people.
func randomTemplate(r *rand.Rand, dim int) presence.Embedding {
	e := make(presence.Embedding, dim)
	for i := range e {
		e[i] = float32(r.NormFloat64())
	}
	e.Normalize()
	return e
}

// near returns a unit vector at about the given cosine similarity to e.
func near(r *rand.Rand, e presence.Embedding, similarity float64) presence.Embedding {
	noise := randomTemplate(r, len(e))
	out := make(presence.Embedding, len(e))
	for i := range e {
		out[i] = float32(similarity)*e[i] + float32(1-similarity)*noise[i]
	}
	out.Normalize()
	return out
}

func TestSearchRanksSubjectsByBestTemplate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := NewIndex(nil, nil)
	probe := randomTemplate(r, 512)
	// 5000 strangers, then "bob" with two templates, and "carol" whose one
	// template is a little less like the probe.
	seq := int64(0)
	for i := range 5000 {
		seq++
		x.add(seq, fmt.Sprint("stranger-", i), randomTemplate(r, 512))
	}
	for _, s := range []struct {
		id  string
		sim float64
	}{{"bob", 0.9}, {"bob", 0.7}, {"carol", 0.8}} {
		seq++
		x.add(seq, s.id, near(r, probe, s.sim))
	}
	got := x.Search(probe, 3, "")
	if len(got) != 3 || got[0].SubjectID != "bob" || got[1].SubjectID != "carol" || got[0].Similarity < got[1].Similarity {
		t.Fatalf("top 3: %+v", got)
	}
	if got[2].Similarity > 0.3 {
		t.Fatalf("a stranger looks like the probe: %+v", got[2])
	}
	// Each subject appears once, and excluded subjects not at all.
	got = x.Search(probe, 2, "bob")
	if got[0].SubjectID != "carol" || got[1].SubjectID == "bob" {
		t.Fatalf("excluding bob: %+v", got)
	}
	// Removing a row moves the last row into its place.
	x.mu.Lock()
	x.removeLocked(seq) // carol
	x.mu.Unlock()
	if got := x.Search(probe, 2, ""); got[0].SubjectID != "bob" || got[1].SubjectID == "carol" || x.Len() != 5002 {
		t.Fatalf("after removing carol: %+v (%d rows)", got, x.Len())
	}
	// A probe of another length is never compared.
	if got := x.Search(probe[:128], 3, ""); got != nil {
		t.Fatalf("probe of another model: %+v", got)
	}
}

// TestIndexFollowsTheStore: a second index over the same database sees
// the enrolments and erasures of the first (two nodes, one database).
func TestIndexFollowsTheStore(t *testing.T) {
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	key, _, _ := seal.NewKey()
	sealer, _ := seal.New(key)
	r := rand.New(rand.NewPCG(3, 4))
	now := time.Now()
	templates := map[string]presence.Embedding{}
	for i := range 2500 { // more than one sync page
		id := fmt.Sprint("s", i)
		templates[id] = randomTemplate(r, 512)
		sealed, _ := sealer.SealEmbedding(templates[id], id)
		store.CreateSubject(ctx, &presence.Subject{ID: id, CreatedAt: now})
		if err := store.AddTemplate(ctx, &presence.Template{SubjectID: id, Sealed: sealed, CreatedAt: now}, 5, presence.AuditRecord{At: now, Action: presence.AuditEnrolled}); err != nil {
			t.Fatal(err)
		}
	}
	x := NewIndex(store, sealer)
	if err := x.Sync(ctx); err != nil || x.Len() != 2500 {
		t.Fatalf("sync: %d rows, %v", x.Len(), err)
	}
	if got := x.Search(templates["s1234"], 1, ""); got[0].SubjectID != "s1234" || got[0].Similarity < 0.999 {
		t.Fatalf("search: %+v", got)
	}
	if _, err := store.DeleteSubject(ctx, "s1234", presence.AuditRecord{At: now, Action: presence.AuditSubjectDeleted}); err != nil {
		t.Fatal(err)
	}
	if err := x.Sync(ctx); err != nil || x.Len() != 2499 {
		t.Fatalf("after erasure: %d rows, %v", x.Len(), err)
	}
	if got := x.Search(templates["s1234"], 1, ""); got[0].SubjectID == "s1234" {
		t.Fatalf("erased subject still found: %+v", got)
	}
}

// BenchmarkIdentify is 1:N search over synthetic 512-d templates, one per
// subject: the cost of /v1/identify and of the duplicate check at
// enrolment beyond reading the session (run with -benchtime and compare
// the sizes; the work grows linearly).
func BenchmarkIdentify(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("subjects=%dk", n/1000), func(b *testing.B) {
			r := rand.New(rand.NewPCG(5, 6))
			x := NewIndex(nil, nil)
			for i := range n {
				x.add(int64(i+1), fmt.Sprint("subject-", i), randomTemplate(r, 512))
			}
			probe := randomTemplate(r, 512)
			b.ResetTimer()
			for b.Loop() {
				if len(x.Search(probe, 5, "")) != 5 {
					b.Fatal("short result")
				}
			}
		})
	}
}

// BenchmarkIndexSync is a node's start: reading and opening 10k sealed
// templates from SQLite.
func BenchmarkIndexSync(b *testing.B) {
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, filepath.Join(b.TempDir(), "p.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	key, _, _ := seal.NewKey()
	sealer, _ := seal.New(key)
	r := rand.New(rand.NewPCG(7, 8))
	now := time.Now()
	const n = 10_000
	for i := range n {
		id := fmt.Sprint("s", i)
		sealed, _ := sealer.SealEmbedding(randomTemplate(r, 512), id)
		store.CreateSubject(ctx, &presence.Subject{ID: id, CreatedAt: now})
		store.AddTemplate(ctx, &presence.Template{SubjectID: id, Sealed: sealed, CreatedAt: now}, 5, presence.AuditRecord{At: now, Action: presence.AuditEnrolled})
	}
	b.ResetTimer()
	for b.Loop() {
		x := NewIndex(store, sealer)
		if err := x.Sync(ctx); err != nil || x.Len() != n {
			b.Fatal(x.Len(), err)
		}
	}
}

// lateStore is an index store whose rows become visible in commit order,
// not number order, as on PostgreSQL.
type lateStore struct {
	templates []presence.Template // visible now
	deletions [][2]int64          // (deletion seq, template seq), visible now
}

func (s *lateStore) TemplatesSince(_ context.Context, after int64, limit int) ([]presence.Template, error) {
	var out []presence.Template
	for _, t := range s.templates {
		if t.Seq > after {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *lateStore) DeletionsSince(_ context.Context, after int64) ([]int64, int64, error) {
	var ids []int64
	last := after
	for _, d := range s.deletions {
		if d[0] > after {
			ids = append(ids, d[1])
			last = max(last, d[0])
		}
	}
	return ids, last, nil
}

// TestIndexSeesLateCommits: an enrolment numbered 1 that commits after
// enrolment 2 was indexed, and an erasure logged late the same way, both
// reach the index (the enrolment was never indexed, and an erased subject
// was still found at similarity 1.0).
func TestIndexSeesLateCommits(t *testing.T) {
	k, _, _ := seal.NewKey()
	sealer, _ := seal.New(k)
	r := rand.New(rand.NewPCG(5, 6))
	template := func(seq int64, subject string) (presence.Template, presence.Embedding) {
		e := randomTemplate(r, 512)
		sealed, _ := sealer.SealEmbedding(e, subject)
		return presence.Template{Seq: seq, SubjectID: subject, Sealed: sealed}, e
	}
	store := &lateStore{}
	x := NewIndex(store, sealer)
	ctx := context.Background()
	late, lateFace := template(1, "late")
	early, earlyFace := template(2, "early")
	store.templates = []presence.Template{early} // 2 committed, 1 still open
	if err := x.Sync(ctx); err != nil || x.Len() != 1 {
		t.Fatalf("first sync: %d rows, %v", x.Len(), err)
	}
	store.templates = append(store.templates, late) // 1 commits
	if err := x.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := x.Search(lateFace, 1, ""); len(got) != 1 || got[0].SubjectID != "late" {
		t.Fatalf("the late enrolment is not searchable: %+v", got)
	}
	// Erasure of "early" logged as deletion 1 after deletion 2 (of "late")
	// was already read.
	store.templates = nil
	store.deletions = [][2]int64{{2, 1}}
	if err := x.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	store.deletions = append(store.deletions, [2]int64{1, 2})
	if err := x.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := x.Search(earlyFace, 1, ""); len(got) != 0 {
		t.Fatalf("an erased subject is still found: %+v", got)
	}
}
