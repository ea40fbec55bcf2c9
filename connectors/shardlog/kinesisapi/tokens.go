package kinesisapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/sluicehq/sluice/connectors/shardlog"
)

// Shard iterators and NextTokens: what the log's positions and listings
// look like to a client.

// iterVersion is the version of a shard iterator token.
const iterVersion = 1

// encodeIterator is the token a client holds for it (base64):
//
//	byte    version (1)
//	uint64  creation time of the stream, ms (big-endian, as all below)
//	uint32  shard index
//	uint64  position (offset of the next record)
//	uint64  issue time, ms
//	byte    length of the stream name, then the name
//	16      HMAC-SHA256 of all the above with the log's iterator key, truncated
//
// The key lives in the log's directory, so tokens stay valid across
// restarts, and forged or altered ones are refused.
func (s *Server) encodeIterator(it shardlog.ShardIterator) string {
	b := make([]byte, 0, 48+len(it.Stream)+16)
	b = append(b, iterVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(it.StreamCreated.UnixMilli()))
	b = binary.BigEndian.AppendUint32(b, it.Next.Shard)
	b = binary.BigEndian.AppendUint64(b, it.Next.Pos)
	b = binary.BigEndian.AppendUint64(b, uint64(it.Issued.UnixMilli()))
	b = append(b, byte(len(it.Stream)))
	b = append(b, it.Stream...)
	m := hmac.New(sha256.New, s.log.IteratorKey())
	m.Write(b)
	b = m.Sum(b)[:len(b)+16]
	return base64.StdEncoding.EncodeToString(b)
}

// decodeIterator reads a token encodeIterator made; anything else is
// "Invalid ShardIterator.".
func (s *Server) decodeIterator(tok string) (shardlog.ShardIterator, error) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(b) < 1+8+4+8+8+1+16 || b[0] != iterVersion {
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
