// Command go-tlog-check checks an ai-provenance log with someone else's code: Go's
// golang.org/x/mod/sumdb/note (the signed checkpoint) and golang.org/x/mod/sumdb/tlog (the
// Merkle tree, its tiles and its proofs), the packages the Go checksum database's clients
// use. Only the fetching is its own, because the service serves C2SP tlog-tiles paths
// (tile/<L>/<N>, tile/entries/<N>), while Go's own tile paths add the tile height
// (tile/8/<L>/<N>) and name the entries "data".
//
// It fetches <url>/tlog/checkpoint and verifies its signature with the verifier key given
// (pin it: take it from the operator, or once from <url>/v1/log/verifier-key, and keep it);
// checks that the checkpoint's origin is the key's name; reads the hash tiles through
// tlog.TileHashReader, which checks every tile against the signed root; recomputes every
// leaf hash from the entry bundles and compares it with the tiles; checks the service's
// own inclusion proof (GET /v1/log/proof/inclusion) of every leaf, or of -leaves of them,
// with tlog.CheckRecord; and, given -state, checks that the log only grew since the
// checkpoint saved there (GET /v1/log/proof/consistency, tlog.CheckTree, and the same
// proof built from the tiles), then saves the new one.
//
// Build it without a module proxy, against Debian's golang-golang-x-mod-dev:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o tlog-check ./examples/go-tlog-check
//
// Exit status 0 when every check passed, 1 when one failed (said on stderr), 2 on bad usage.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is C2SP tlog-tiles' fixed height: 8 levels, 256 hashes a tile.
const tileHeight = 8

var client = &http.Client{Timeout: 30 * time.Second}

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "the service's base URL")
	vkey := flag.String("vkey", "", "the log's note verifier key (name+hash+key), pinned")
	state := flag.String("state", "", "a file holding the last checkpoint checked; the log must have only grown since")
	leaves := flag.Int64("leaves", -1, "check the inclusion proofs of only this many leaves, the newest (-1: all)")
	flag.Parse()
	if *vkey == "" {
		fmt.Fprintln(os.Stderr, "usage: tlog-check -url URL -vkey VERIFIER_KEY [-state FILE] [-leaves N]")
		os.Exit(2)
	}
	if err := run(strings.TrimRight(*base, "/"), strings.TrimSpace(*vkey), *state, *leaves); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

func run(base, vkey, state string, leaves int64) error {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("the verifier key: %v", err)
	}
	raw, err := get(base + "/tlog/checkpoint")
	if err != nil {
		return err
	}
	tree, origin, err := openCheckpoint(raw, verifier)
	if err != nil {
		return err
	}
	fmt.Printf("checkpoint: %s, %d entries, root %s, signed by %s\n", origin, tree.N, tree.Hash, verifier.Name())

	tiles := &c2spTiles{base: base}
	hashes := tlog.TileHashReader(tree, tiles)
	// The tiles must give the signed root: TileHashReader checks each tile it reads
	// against the tree, and TreeHash reads the ones the root needs.
	if root, err := tlog.TreeHash(tree.N, hashes); err != nil {
		return fmt.Errorf("the hash tiles: %v", err)
	} else if root != tree.Hash {
		return fmt.Errorf("the hash tiles give root %s, the checkpoint says %s", root, tree.Hash)
	}

	// Every leaf, from the entry bundles: its hash must be the tiles' level-0 hash.
	leafHashes, err := readLeafHashes(base, tree.N)
	if err != nil {
		return err
	}
	first := int64(0)
	if leaves >= 0 && leaves < tree.N {
		first = tree.N - leaves
	}
	for i := first; i < tree.N; i++ {
		stored, err := hashes.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
		if err != nil {
			return fmt.Errorf("leaf %d: %v", i, err)
		}
		if stored[0] != leafHashes[i] {
			return fmt.Errorf("leaf %d: its bundle entry hashes to %s, the tiles hold %s", i, leafHashes[i], stored[0])
		}
		// The service's own proof, checked with tlog's hashing.
		var answer struct {
			Proof []string `json:"inclusion_proof"`
		}
		if err := getJSON(fmt.Sprintf("%s/v1/log/proof/inclusion?index=%d&tree_size=%d", base, i, tree.N), &answer); err != nil {
			return err
		}
		proof, err := parseHashes(answer.Proof)
		if err != nil {
			return fmt.Errorf("inclusion proof of leaf %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, leafHashes[i]); err != nil {
			return fmt.Errorf("inclusion proof of leaf %d: %v", i, err)
		}
	}
	fmt.Printf("leaves: %d checked against the tiles, %d inclusion proofs verified\n", tree.N, tree.N-first)

	if state != "" {
		if err := checkGrowth(base, state, verifier, tree, hashes); err != nil {
			return err
		}
		if err := os.WriteFile(state, raw, 0o644); err != nil {
			return fmt.Errorf("saving %s: %v", state, err)
		}
	}
	fmt.Println("OK")
	return nil
}

// openCheckpoint verifies the signed note and parses its C2SP tlog-checkpoint body:
// origin, tree size, base64 root hash (then optional extension lines).
func openCheckpoint(raw []byte, verifier note.Verifier) (tlog.Tree, string, error) {
	n, err := note.Open(raw, note.VerifierList(verifier))
	if err != nil {
		return tlog.Tree{}, "", fmt.Errorf("the checkpoint's signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return tlog.Tree{}, "", errors.New("the checkpoint has fewer than three lines")
	}
	if lines[0] != verifier.Name() {
		return tlog.Tree{}, "", fmt.Errorf("the checkpoint's origin %q is not the key's name %q", lines[0], verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return tlog.Tree{}, "", fmt.Errorf("the checkpoint's size %q", lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return tlog.Tree{}, "", fmt.Errorf("the checkpoint's root %q: %v", lines[2], err)
	}
	return tlog.Tree{N: size, Hash: root}, lines[0], nil
}

// checkGrowth checks that the tree grew from the checkpoint saved in state, if any:
// the service's consistency proof and one built from the tiles.
func checkGrowth(base, state string, verifier note.Verifier, tree tlog.Tree, hashes tlog.HashReader) error {
	saved, err := os.ReadFile(state)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Printf("state: none yet; %s now holds this checkpoint\n", state)
		return nil
	} else if err != nil {
		return err
	}
	old, _, err := openCheckpoint(saved, verifier)
	if err != nil {
		return fmt.Errorf("the saved checkpoint in %s: %v", state, err)
	}
	if old.N > tree.N {
		return fmt.Errorf("the log shrank: %d entries saved, %d now", old.N, tree.N)
	}
	var answer struct {
		Proof []string `json:"consistency_proof"`
	}
	if err := getJSON(fmt.Sprintf("%s/v1/log/proof/consistency?first=%d&second=%d", base, old.N, tree.N), &answer); err != nil {
		return err
	}
	proof, err := parseHashes(answer.Proof)
	if err != nil {
		return fmt.Errorf("consistency proof: %v", err)
	}
	if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		return fmt.Errorf("the log is not an extension of the saved checkpoint (%d entries): %v", old.N, err)
	}
	fromTiles, err := tlog.ProveTree(tree.N, old.N, hashes)
	if err != nil {
		return fmt.Errorf("consistency proof from the tiles: %v", err)
	}
	if err := tlog.CheckTree(fromTiles, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		return fmt.Errorf("the tiles are not an extension of the saved checkpoint: %v", err)
	}
	fmt.Printf("consistency: %d -> %d entries proven (the service's proof and the tiles')\n", old.N, tree.N)
	return nil
}

// readLeafHashes reads every entry bundle of a tree of n leaves and returns the RFC 6962
// leaf hash of each entry.
func readLeafHashes(base string, n int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, n)
	for k := int64(0); k*256 < n; k++ {
		width := n - k*256
		if width > 256 {
			width = 256
		}
		path := "tile/entries/" + tileIndex(k)
		if width < 256 {
			path += fmt.Sprintf(".p/%d", width)
		}
		bundle, err := get(base + "/tlog/" + path)
		if err != nil {
			return nil, err
		}
		for i := int64(0); i < width; i++ {
			if len(bundle) < 2 {
				return nil, fmt.Errorf("%s: entry %d is missing", path, i)
			}
			size := int(binary.BigEndian.Uint16(bundle))
			if len(bundle) < 2+size {
				return nil, fmt.Errorf("%s: entry %d is cut short", path, i)
			}
			out = append(out, tlog.RecordHash(bundle[2:2+size]))
			bundle = bundle[2+size:]
		}
		if len(bundle) != 0 {
			return nil, fmt.Errorf("%s: %d bytes after its %d entries", path, len(bundle), width)
		}
	}
	return out, nil
}

// c2spTiles reads hash tiles at their C2SP tlog-tiles paths.
type c2spTiles struct{ base string }

func (c *c2spTiles) Height() int { return tileHeight }

func (c *c2spTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t.H != tileHeight || t.L < 0 {
			return nil, fmt.Errorf("unexpected tile %+v", t)
		}
		path := fmt.Sprintf("tile/%d/%s", t.L, tileIndex(t.N))
		if t.W != 1<<tileHeight {
			path += fmt.Sprintf(".p/%d", t.W)
		}
		data, err := get(c.base + "/tlog/" + path)
		if err != nil {
			return nil, err
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, not %d hashes", path, len(data), t.W)
		}
		out[i] = data
	}
	return out, nil
}

// SaveTiles: nothing is cached; every run reads the tiles again.
func (c *c2spTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// tileIndex writes n as C2SP tlog-tiles does: groups of three digits, all but the last
// prefixed with x (1234067 is x001/x234/067).
func tileIndex(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

func parseHashes(hexes []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(hexes))
	for i, h := range hexes {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("hash %d (%q) is not 32 bytes of hex", i, h)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

func get(url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

func getJSON(url string, v interface{}) error {
	body, err := get(url)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}
