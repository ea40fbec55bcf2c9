package service

import (
	"net/http"
	"path/filepath"

	"github.com/sluicehq/sluice/connectors/shardlog/kinesisapi"
	"github.com/sluicehq/sluice/connectors/video"
	"github.com/sluicehq/sluice/connectors/video/archive"
	"github.com/sluicehq/sluice/connectors/video/videoapi"
)

// openVideo opens the video streams' store under DIR/video and its API,
// whose signatures and policies are checked as the Kinesis API's, for the
// kinesisvideo service.
func (s *Service) openVideo() error {
	lo := s.log.Options()
	st, err := video.Open(video.Options{Dir: filepath.Join(s.opts.Dir, "video"), Region: lo.Region, AccountID: lo.AccountID})
	if err != nil {
		return err
	}
	s.video = videoapi.New(st, videoapi.Options{
		Authenticate: func(hr *http.Request, body []byte) (any, error) {
			return s.kinesis.Verify(hr, body, videoapi.SigningName)
		},
		AuthenticateStreaming: func(hr *http.Request) (any, error) {
			return s.kinesis.VerifyStreaming(hr, videoapi.SigningName)
		},
		Authorize: func(p any, action, resource string) error {
			pr, _ := p.(*kinesisapi.Principal)
			return s.kinesis.Authorize(pr, action, resource)
		},
		ErrorLog: s.opts.ErrorLog,
	})
	// Archived media (ListFragments, GetClip, HLS, ...) over the same store,
	// signed as the other video APIs; HLS resources carry a session token.
	ah := archive.New(st, archive.WithVerifier(func(hr *http.Request, body []byte) error {
		_, err := s.kinesis.Verify(hr, body, videoapi.SigningName)
		return err
	}))
	for _, p := range archive.Paths() {
		s.video.Handle(p, ah)
	}
	s.video.Handle(archive.HLSPrefix, ah)
	return nil
}

// Video is the Kinesis Video Streams API (nil unless Options.Video): more
// handlers on its store join with its Handle.
func (s *Service) Video() *videoapi.Server { return s.video }

func (s *Service) closeVideo() error {
	if s.video == nil {
		return nil
	}
	return s.video.Store().Close()
}
