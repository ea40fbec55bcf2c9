// Package layers holds no code: its test checks the import rules of
// docs/architecture.md, so that an arrow running up the layers (state
// importing the engine, the wire server linking Pebble, the engine linking
// the AWS SDK) fails the build's tests instead of creeping in.
package layers
