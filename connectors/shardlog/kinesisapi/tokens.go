package kinesisapi

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// Shard iterators and NextTokens: what the log's positions and listings
// look like to a client.

// A shard iterator has the service's shape: the 8-byte big-endian version
// (1, hence the "AAAAAAAAAAE".."AAAAAAAAAAH" every iterator begins with),
// then the position sealed, base64 with padding. It is as long as the
// service's: 168 bytes (224 characters) for a stream name of up to 11
// bytes, growing by 16 bytes with every 16 bytes more of name (184 bytes at
// 12..27, 216 at 44..59), which is how the service's iterators grow.
// Sealed:
//
//	16      synthetic IV: HMAC-SHA256 of the version and the plain text
//	        with the log's MAC key, truncated
//	n       AES-256-CTR of the plain text (key and IV above); the plain text:
//	  uint64  creation time of the stream, ms (big-endian, as all below)
//	  uint32  shard index
//	  uint64  position (offset of the next record)
//	  uint64  issue time, ms
//	  byte    length of the stream name, then the name
//	  zeros   to the size above
//
// Both keys are derived from the log's iterator key, which lives in the log's
// directory, so iterators stay valid across restarts; a forged or altered
// one, or one of another log, is refused. The same position gives the same
// iterator (the IV is derived, not random).
const (
	iterVersion   = 1
	iterHeader    = 8 + 16
	iterMinPlain  = 144 // the plain text of the shortest iterator
	iterFixedSize = 8 + 4 + 8 + 8 + 1
)

// iterKeys are the keys derived from one log's iterator key.
type iterKeys struct {
	key   []byte // the log's iterator key they come from
	block cipher.Block
	macs  sync.Pool // of hash.Hash: HMAC-SHA256 with the MAC key
}

// lastIterKeys caches the keys of the last log an iterator was made or
// read for (a process usually serves one).
var lastIterKeys atomic.Pointer[iterKeys]

func (s *Server) iterKeys() (*iterKeys, error) {
	key := s.log.IteratorKey()
	if k := lastIterKeys.Load(); k != nil && bytes.Equal(k.key, key) {
		return k, nil
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("sluice shard iterator encryption"))
	if err != nil {
		return nil, fmt.Errorf("kinesisapi: iterator key: %w", err)
	}
	macKey := derive("sluice shard iterator authentication")
	k := &iterKeys{key: bytes.Clone(key), block: block}
	k.macs.New = func() any { return hmac.New(sha256.New, macKey) }
	lastIterKeys.Store(k)
	return k, nil
}

// iterPlainSize is the plain text's size for a stream name of n bytes:
// with the IV, the size the service's sealed part has, a multiple of 16 at
// least n+149.
func iterPlainSize(n int) int {
	return (n+149+15)&^15 - 16
}

func (k *iterKeys) siv(version, plain []byte) []byte {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(version)
	m.Write(plain)
	var sum [sha256.Size]byte
	out := m.Sum(sum[:0])[:16]
	k.macs.Put(m)
	return out
}

// encodeIterator is the token a client holds for it.
func (s *Server) encodeIterator(it shardlog.ShardIterator) string {
	k, err := s.iterKeys()
	if err != nil {
		// aes.NewCipher fails only for a key of the wrong size, and the
		// derived key is always 32 bytes.
		panic(err)
	}
	b := make([]byte, iterHeader+iterPlainSize(len(it.Stream)))
	binary.BigEndian.PutUint64(b, iterVersion)
	plain := b[iterHeader:]
	p := binary.BigEndian.AppendUint64(plain[:0], uint64(it.StreamCreated.UnixMilli()))
	p = binary.BigEndian.AppendUint32(p, it.Next.Shard)
	p = binary.BigEndian.AppendUint64(p, it.Next.Pos)
	p = binary.BigEndian.AppendUint64(p, uint64(it.Issued.UnixMilli()))
	p = append(p, byte(len(it.Stream)))
	_ = append(p, it.Stream...)
	iv := k.siv(b[:8], plain)
	copy(b[8:], iv)
	cipher.NewCTR(k.block, iv).XORKeyStream(plain, plain)
	return base64.StdEncoding.EncodeToString(b)
}

// decodeIterator reads a token encodeIterator made (or the shorter one of
// earlier versions, still valid for its five minutes across an upgrade);
// anything else is "Invalid ShardIterator.".
func (s *Server) decodeIterator(tok string) (shardlog.ShardIterator, error) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 {
		return shardlog.ShardIterator{}, errBadIterator
	}
	if b[0] == 1 {
		return s.decodeIteratorV0(b)
	}
	k, err := s.iterKeys()
	if err != nil {
		return shardlog.ShardIterator{}, err
	}
	if len(b) < iterHeader+iterMinPlain || (len(b)-iterHeader)%16 != 0 || binary.BigEndian.Uint64(b) != iterVersion {
		return shardlog.ShardIterator{}, errBadIterator
	}
	iv := b[8:iterHeader]
	plain := make([]byte, len(b)-iterHeader)
	cipher.NewCTR(k.block, iv).XORKeyStream(plain, b[iterHeader:])
	if !hmac.Equal(k.siv(b[:8], plain), iv) {
		return shardlog.ShardIterator{}, errBadIterator
	}
	n := int(plain[iterFixedSize-1])
	if iterPlainSize(n) != len(plain) {
		return shardlog.ShardIterator{}, errBadIterator
	}
	for _, c := range plain[iterFixedSize+n:] {
		if c != 0 {
			return shardlog.ShardIterator{}, errBadIterator
		}
	}
	return shardlog.ShardIterator{
		StreamCreated: time.UnixMilli(int64(binary.BigEndian.Uint64(plain[0:]))),
		Next:          shardlog.SequenceNumber{Shard: binary.BigEndian.Uint32(plain[8:]), Pos: binary.BigEndian.Uint64(plain[12:])},
		Issued:        time.UnixMilli(int64(binary.BigEndian.Uint64(plain[20:]))),
		Stream:        string(plain[iterFixedSize : iterFixedSize+n]),
	}, nil
}

// decodeIteratorV0 reads the tokens of earlier versions:
//
//	byte    1
//	uint64  creation time of the stream, ms (big-endian, as all below)
//	uint32  shard index
//	uint64  position (offset of the next record)
//	uint64  issue time, ms
//	byte    length of the stream name, then the name
//	16      HMAC-SHA256 of all the above with the log's iterator key, truncated
func (s *Server) decodeIteratorV0(b []byte) (shardlog.ShardIterator, error) {
	if len(b) < 1+8+4+8+8+1+16 {
		return shardlog.ShardIterator{}, errBadIterator
	}
	body, mac := b[:len(b)-16], b[len(b)-16:]
	m := hmac.New(sha256.New, s.log.IteratorKey())
	m.Write(body)
	if !hmac.Equal(m.Sum(nil)[:16], mac) {
		return shardlog.ShardIterator{}, errBadIterator
	}
	n := int(body[29])
	if len(body) != 30+n {
		return shardlog.ShardIterator{}, errBadIterator
	}
	return shardlog.ShardIterator{
		StreamCreated: time.UnixMilli(int64(binary.BigEndian.Uint64(body[1:]))),
		Next:          shardlog.SequenceNumber{Shard: binary.BigEndian.Uint32(body[9:]), Pos: binary.BigEndian.Uint64(body[13:])},
		Issued:        time.UnixMilli(int64(binary.BigEndian.Uint64(body[21:]))),
		Stream:        string(body[30:]),
	}, nil
}

// pageToken is the content of a NextToken: where the listing continues,
// what it lists and when the token was issued (tokens expire after 300 s,
// as Kinesis's do).
type pageToken struct {
	Stream  string               `json:"s,omitempty"`
	After   string               `json:"a"`
	Issued  int64                `json:"t"`
	Filter  shardlog.ShardFilter `json:"f"`
	Created int64                `json:"c,omitempty"`
}

func (s *Server) encodeToken(t pageToken) string {
	t.Issued = s.log.Now().UnixMilli()
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) decodeToken(tok string) (pageToken, error) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Issued == 0 {
		return t, errBadNextToken
	}
	if s.log.Now().UnixMilli()-t.Issued > 300_000 {
		return t, errExpiredNextToken
	}
	return t, nil
}
