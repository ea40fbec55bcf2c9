package nexmark

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicehq/sluice/state"
)

// Codecs for keeping events in keyed state (state.Codec): fields in
// order, integers as varints, strings length-prefixed.
var (
	PersonCodec  state.Codec[Person]  = personCodec{}
	AuctionCodec state.Codec[Auction] = auctionCodec{}
	BidCodec     state.Codec[Bid]     = bidCodec{}
)

type personCodec struct{}

func (personCodec) Append(dst []byte, p Person) []byte {
	dst = binary.AppendVarint(dst, p.ID)
	dst = appendString(dst, p.Name)
	dst = appendString(dst, p.EmailAddress)
	dst = appendString(dst, p.CreditCard)
	dst = appendString(dst, p.City)
	dst = appendString(dst, p.State)
	dst = binary.AppendVarint(dst, p.DateTime)
	return appendString(dst, p.Extra)
}

func (personCodec) Decode(src []byte) (Person, error) {
	d := decoder{b: src}
	p := Person{ID: d.int(), Name: d.str(), EmailAddress: d.str(), CreditCard: d.str(), City: d.str(), State: d.str(), DateTime: d.int(), Extra: d.str()}
	return p, d.done("person")
}

type auctionCodec struct{}

func (auctionCodec) Append(dst []byte, a Auction) []byte {
	dst = binary.AppendVarint(dst, a.ID)
	dst = appendString(dst, a.ItemName)
	dst = appendString(dst, a.Description)
	dst = binary.AppendVarint(dst, a.InitialBid)
	dst = binary.AppendVarint(dst, a.Reserve)
	dst = binary.AppendVarint(dst, a.DateTime)
	dst = binary.AppendVarint(dst, a.Expires)
	dst = binary.AppendVarint(dst, a.Seller)
	dst = binary.AppendVarint(dst, a.Category)
	return appendString(dst, a.Extra)
}

func (auctionCodec) Decode(src []byte) (Auction, error) {
	d := decoder{b: src}
	a := Auction{ID: d.int(), ItemName: d.str(), Description: d.str(), InitialBid: d.int(), Reserve: d.int(),
		DateTime: d.int(), Expires: d.int(), Seller: d.int(), Category: d.int(), Extra: d.str()}
	return a, d.done("auction")
}

type bidCodec struct{}

func (bidCodec) Append(dst []byte, b Bid) []byte {
	dst = binary.AppendVarint(dst, b.Auction)
	dst = binary.AppendVarint(dst, b.Bidder)
	dst = binary.AppendVarint(dst, b.Price)
	dst = appendString(dst, b.Channel)
	dst = appendString(dst, b.URL)
	dst = binary.AppendVarint(dst, b.DateTime)
	return appendString(dst, b.Extra)
}

func (bidCodec) Decode(src []byte) (Bid, error) {
	d := decoder{b: src}
	b := Bid{Auction: d.int(), Bidder: d.int(), Price: d.int(), Channel: d.str(), URL: d.str(), DateTime: d.int(), Extra: d.str()}
	return b, d.done("bid")
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads fields in order; the first problem sticks and is reported
// by done.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) int() int64 {
	if d.bad {
		return 0
	}
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) str() string {
	if d.bad {
		return ""
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.bad = true
		return ""
	}
	s := string(d.b[k : k+int(n)])
	d.b = d.b[k+int(n):]
	return s
}

func (d *decoder) done(what string) error {
	if d.bad || len(d.b) != 0 {
		return fmt.Errorf("%w: nexmark %s (%d bytes left)", state.ErrCorrupt, what, len(d.b))
	}
	return nil
}
