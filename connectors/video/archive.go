// Package video holds Kinesis Video Streams' model in Sluice: video streams
// with a retention period, and the Matroska fragments pushed into them, stored
// durably and indexed by fragment number and by their producer and server
// timestamps.
//
// This file is the contract between the store and archived-media playback
// (ListFragments, GetMediaForFragmentList, GetClip, HLS): playback reads a
// stream's fragments only through Archive.
package video

import (
	"context"
	"errors"
	"time"
)

// ErrStreamNotFound is wrapped by Archive methods when the stream does not
// exist (the APIs answer ResourceNotFoundException).
var ErrStreamNotFound = errors.New("video: stream not found")

// ErrFragmentNotFound is wrapped when a fragment number is unknown or its
// fragment was trimmed at retention.
var ErrFragmentNotFound = errors.New("video: fragment not found")

// TimestampType says which of a fragment's two timestamps a range selects on.
type TimestampType int

const (
	// ProducerTimestamp is the time the producer gave the fragment (its
	// cluster's timecode on the producer's clock).
	ProducerTimestamp TimestampType = iota
	// ServerTimestamp is the time the server received the fragment's start.
	ServerTimestamp
)

// StreamInfo describes a video stream, as DescribeStream reports it.
type StreamInfo struct {
	Name                 string
	ARN                  string
	MediaType            string
	DeviceName           string
	KmsKeyID             string
	Version              string
	Status               string // CREATING, ACTIVE, UPDATING, DELETING
	CreationTime         time.Time
	DataRetentionInHours int
}

// FragmentInfo describes one stored fragment, as ListFragments reports it.
type FragmentInfo struct {
	// Number is the fragment number: a decimal string, increasing in the
	// order fragments were stored within a stream.
	Number            string
	ProducerTimestamp time.Time
	ServerTimestamp   time.Time
	// Duration is the playback duration of the fragment's frames.
	Duration time.Duration
	// Size is the size in bytes of the fragment's Matroska (what Fragment
	// returns).
	Size int64
}

// Archive is the read side of a stream's storage that archived-media playback
// uses. Implementations are safe for concurrent use.
type Archive interface {
	// Stream returns the stream named name or, if name is empty, the stream
	// whose ARN is arn.
	Stream(ctx context.Context, name, arn string) (StreamInfo, error)
	// Fragments returns, ordered by fragment number, the durable fragments of
	// the stream whose selected timestamp t satisfies start <= t <= end.
	Fragments(ctx context.Context, stream string, ts TimestampType, start, end time.Time) ([]FragmentInfo, error)
	// Fragment returns one fragment as a self-contained Matroska document:
	// the EBML header, then a Segment holding the stream's Info and Tracks,
	// the fragment's Cluster and its Tags (AWS_KINESISVIDEO_FRAGMENT_NUMBER,
	// AWS_KINESISVIDEO_SERVER_TIMESTAMP, AWS_KINESISVIDEO_PRODUCER_TIMESTAMP
	// and the producer's own tags), as GetMediaForFragmentList returns it.
	Fragment(ctx context.Context, stream, number string) ([]byte, error)
}
