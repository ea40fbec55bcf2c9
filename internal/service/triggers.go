package service

import (
	"context"
	"slices"
	"time"

	"github.com/sluicehq/sluice/connectors/trigger"
)

// startTriggers runs the Lambda-style triggers stored under the service's
// directory (`sluice trigger create --data DIR` with the service's DIR)
// over its log, and looks at the store again every TriggerSync, starting
// the triggers created and stopping the ones deleted meanwhile.
func (s *Service) startTriggers() error {
	st, err := trigger.OpenStore(s.opts.Dir)
	if err != nil {
		return err
	}
	logf := s.opts.ErrorLog
	if logf == nil {
		logf = func(string, ...any) {}
	}
	s.triggers = st
	s.host = trigger.NewHost(s.log, st, trigger.HostOptions{Logf: logf, NewSource: s.opts.TriggerSource})
	ctx, cancel := context.WithCancel(context.Background())
	s.stopTrigs, s.trigsDone = cancel, make(chan struct{})
	every := s.opts.TriggerSync
	if every <= 0 {
		every = 2 * time.Second
	}
	if err := s.syncTriggers(ctx); err != nil {
		cancel()
		s.host.StopAll()
		return err
	}
	go func() {
		defer close(s.trigsDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.syncTriggers(ctx); err != nil {
					logf("service: triggers: %v", err)
				}
			}
		}
	}()
	return nil
}

// syncTriggers starts every stored trigger not running and stops every
// running one no longer stored.
func (s *Service) syncTriggers(ctx context.Context) error {
	cfgs, err := s.triggers.List()
	if err != nil {
		return err
	}
	stored := make([]string, len(cfgs))
	for i, c := range cfgs {
		stored[i] = c.Name
	}
	for _, name := range s.host.Running() {
		if !slices.Contains(stored, name) {
			s.host.Stop(name)
		}
	}
	return s.host.StartAll(ctx)
}

// stopTriggers stops the sync and every trigger (each keeps its position
// for the next start).
func (s *Service) stopTriggers() {
	if s.host == nil {
		return
	}
	s.stopTrigs()
	<-s.trigsDone
	s.host.StopAll()
}

// Triggers is the host of the service's triggers.
func (s *Service) Triggers() *trigger.Host { return s.host }
