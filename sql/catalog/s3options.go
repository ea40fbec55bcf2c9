package catalog

import (
	"strings"

	"github.com/sluicehq/sluice/connectors/s3"
)

// S3OptionKeys are the options that reach an S3 bucket, the same for
// every table that writes or reads one (firehose with 'destination' =
// 's3', filesystem with an s3:// path): Flink's filesystem reads these
// from its cluster configuration (s3.endpoint, s3.path.style.access,
// s3.access-key, s3.secret-key); a Sluice script carries them per table.
var S3OptionKeys = []string{"s3.endpoint", "s3.region", "s3.path-style", "s3.access-key-id", "s3.secret-access-key"}

// s3Options is the bucket's client configuration from the S3 options;
// without static keys the usual AWS chain (environment, shared config)
// gives the credentials.
func s3Options(v *Validator, bucket string) (*s3.Config, error) {
	o := v.Table.Options
	ps, err := v.OneOf("s3.path-style", "false", "true", "false")
	if err != nil {
		return nil, err
	}
	c := &s3.Config{Bucket: bucket, Endpoint: o["s3.endpoint"], Region: o["s3.region"],
		UsePathStyle: ps == "true", AccessKeyID: o["s3.access-key-id"], SecretAccessKey: o["s3.secret-access-key"]}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return nil, v.Errorf("s3.access-key-id", "options 's3.access-key-id' and 's3.secret-access-key' go together")
	}
	return c, nil
}

// FilesystemPath is where a filesystem table's files are: a local path,
// or a bucket and a key prefix for an s3:// (or s3a://) path.
type FilesystemPath struct {
	Local  string
	S3     *s3.Config
	Prefix string // the keys' prefix in the bucket, without a leading '/'
}

// S3Schemes are the URI schemes of S3 paths, as Flink's S3 file systems
// register them.
var S3Schemes = []string{"s3://", "s3a://"}

// FilesystemLocation is the table's 'path', checked: a local path (or
// file://), or an S3 bucket with its options. Other schemes are refused
// by name.
func FilesystemLocation(v *Validator) (FilesystemPath, error) {
	p := strings.TrimSpace(v.Table.Options["path"])
	if p == "" {
		return FilesystemPath{}, v.Errorf("path", "option 'path' must name a directory or file")
	}
	var s3Path string
	for _, scheme := range S3Schemes {
		if rest, ok := strings.CutPrefix(p, scheme); ok {
			s3Path = rest
			break
		}
	}
	if s3Path == "" {
		if i := strings.Index(p, "://"); i >= 0 && !strings.HasPrefix(p, "file://") {
			return FilesystemPath{}, v.Errorf("path", "option 'path': scheme '%s' is not supported (local paths, file://, s3:// and s3a:// are)", p[:i])
		}
		for _, k := range S3OptionKeys {
			if _, ok := v.Table.Options[k]; ok {
				return FilesystemPath{}, v.Errorf(k, "option '%s' is for an s3:// 'path', not '%s'", k, p)
			}
		}
		return FilesystemPath{Local: strings.TrimPrefix(p, "file://")}, nil
	}
	bucket, prefix, _ := strings.Cut(s3Path, "/")
	if bucket == "" {
		return FilesystemPath{}, v.Errorf("path", "option 'path': '%s' names no bucket", p)
	}
	c, err := s3Options(v, bucket)
	if err != nil {
		return FilesystemPath{}, err
	}
	if err := c.Validate(); err != nil {
		return FilesystemPath{}, v.Errorf("path", "option 'path': %v", err)
	}
	for _, part := range strings.Split(strings.Trim(prefix, "/"), "/") {
		if part == "." || part == ".." {
			return FilesystemPath{}, v.Errorf("path", "option 'path': '%s' holds a '%s' element", p, part)
		}
	}
	return FilesystemPath{S3: c, Prefix: strings.Trim(prefix, "/")}, nil
}
