package firehoseapi

import (
	"errors"
	"strings"

	"github.com/sluicehq/sluice/connectors/firehose"
	"github.com/sluicehq/sluice/connectors/s3"
)

// The API's destination configurations, checked against the model's
// constraints and mapped onto firehose.Config.

func (vs *violations) checkHints(path string, h *BufferingHints, size rule) {
	if h == nil {
		return
	}
	vs.check(path+".sizeInMBs", num(h.SizeInMBs), size)
	vs.check(path+".intervalInSeconds", num(h.IntervalInSeconds), intervalRule)
}

func (vs *violations) checkProcessing(path string, p *ProcessingConfiguration) {
	if p == nil {
		return
	}
	for i, pr := range p.Processors {
		pp := path + ".processors." + itoa(i+1) + ".member"
		vs.check(pp+".type", str(pr.Type), processorType.Need())
		for j, par := range pr.Parameters {
			ap := pp + ".parameters." + itoa(j+1) + ".member"
			vs.check(ap+".parameterName", str(par.ParameterName), paramName.Need())
			vs.check(ap+".parameterValue", str(par.ParameterValue), paramValue.Need())
		}
	}
}

// checkS3 checks the members of an S3 destination; update says that it
// is an update, where the role and bucket may be left out.
func (vs *violations) checkS3(path string, c *S3DestinationConfiguration, update bool) {
	role, bucket := roleARNRule, bucketARNRule
	if !update {
		role, bucket = role.Need(), bucket.Need()
	}
	vs.check(path+".roleARN", str(c.RoleARN), role)
	vs.check(path+".bucketARN", str(c.BucketARN), bucket)
	vs.check(path+".prefix", str(c.Prefix), prefixRule)
	vs.check(path+".errorOutputPrefix", str(c.ErrorOutputPrefix), prefixRule)
	vs.checkHints(path+".bufferingHints", c.BufferingHints, sizeRule)
	vs.check(path+".compressionFormat", str(c.CompressionFormat), compression)
}

func (vs *violations) checkExtendedS3(path string, c *ExtendedS3DestinationConfiguration, update bool) {
	vs.checkS3(path, &c.S3DestinationConfiguration, update)
	vs.checkProcessing(path+".processingConfiguration", c.ProcessingConfiguration)
	vs.check(path+".s3BackupMode", str(c.S3BackupMode), s3BackupMode)
	if c.S3BackupConfiguration != nil {
		vs.checkS3(path+".s3BackupConfiguration", c.S3BackupConfiguration, false)
	}
	vs.check(path+".fileExtension", str(c.FileExtension), extensionRule)
	vs.check(path+".customTimeZone", str(c.CustomTimeZone), timeZoneRule)
	if d := c.DynamicPartitioningConfiguration; d != nil && d.RetryOptions != nil {
		vs.check(path+".dynamicPartitioningConfiguration.retryOptions.durationInSeconds", num(d.RetryOptions.DurationInSeconds), retryRule)
	}
}

func (vs *violations) checkHTTP(path string, c *HttpEndpointDestinationConfiguration, update bool) {
	endpoint := object(c.EndpointConfiguration != nil)
	if !update {
		vs.check(path+".endpointConfiguration", endpoint, rule{Required: true})
	}
	if e := c.EndpointConfiguration; e != nil {
		vs.check(path+".endpointConfiguration.url", str(e.Url), httpURLRule.Need())
		vs.check(path+".endpointConfiguration.name", str(e.Name), httpNameRule)
		vs.check(path+".endpointConfiguration.accessKey", str(e.AccessKey), accessKeyRule)
	}
	vs.checkHints(path+".bufferingHints", c.BufferingHints, httpSizeRule)
	if rc := c.RequestConfiguration; rc != nil {
		vs.check(path+".requestConfiguration.contentEncoding", str(rc.ContentEncoding), contentEnc)
		vs.check(path+".requestConfiguration.commonAttributes", list(rc.CommonAttributes), lengthRule(0, 50))
		for i, a := range rc.CommonAttributes {
			ap := path + ".requestConfiguration.commonAttributes." + itoa(i+1) + ".member"
			vs.check(ap+".attributeName", str(a.AttributeName), attrNameRule.Need())
			vs.check(ap+".attributeValue", str(a.AttributeValue), attrValueRule.Need())
		}
	}
	vs.checkProcessing(path+".processingConfiguration", c.ProcessingConfiguration)
	vs.check(path+".roleARN", str(c.RoleARN), roleARNRule)
	if c.RetryOptions != nil {
		vs.check(path+".retryOptions.durationInSeconds", num(c.RetryOptions.DurationInSeconds), retryRule)
	}
	vs.check(path+".s3BackupMode", str(c.S3BackupMode), httpBackup)
	if !update {
		vs.check(path+".s3Configuration", object(c.S3Configuration != nil), rule{Required: true})
	}
	if c.S3Configuration != nil {
		vs.checkS3(path+".s3Configuration", c.S3Configuration, update)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

// bucketOf is the bucket name of an S3 bucket ARN.
func bucketOf(arn string) string { return arn[strings.LastIndexByte(arn, ':')+1:] }

// invalid is an InvalidArgumentException.
func invalid(msg string) error { return &apiError{code: codeInvalidArgument, msg: msg} }

// deliveryConfig maps a definition onto the delivery's configuration. The
// S3 destinations name only their bucket; the Backend chooses where the
// bucket is (an S3 endpoint, or a local directory).
func (s *Server) deliveryConfig(ds DeliveryStream) (firehose.Config, error) {
	cfg := firehose.Config{Name: ds.Name, Version: int(ds.Version), Region: s.opts.Region}
	hints := func(h *BufferingHints) {
		if h == nil {
			return
		}
		if h.SizeInMBs != nil {
			cfg.Buffering.SizeInMBs = int(*h.SizeInMBs)
		}
		if h.IntervalInSeconds != nil {
			cfg.Buffering.IntervalInSeconds = firehose.Seconds(int(*h.IntervalInSeconds))
		}
	}
	processing := func(p *ProcessingConfiguration) error {
		if p == nil || !deref(p.Enabled) {
			return nil
		}
		for _, pr := range p.Processors {
			switch t := deref(pr.Type); t {
			case "AppendDelimiterToRecord":
				cfg.Format.AppendNewline = true
			default:
				return invalid("Processor type " + t + " is not supported by this server (Sluice delivers AppendDelimiterToRecord; Lambda transforms are configured with sluice firehose run).")
			}
		}
		return nil
	}
	switch {
	case ds.S3 != nil:
		c := ds.S3
		hints(c.BufferingHints)
		cfg.Prefix = deref(c.Prefix)
		cfg.ErrorOutputPrefix = deref(c.ErrorOutputPrefix)
		cfg.Compression = deref(c.CompressionFormat)
		cfg.FileExtension = deref(c.FileExtension)
		cfg.CustomTimeZone = deref(c.CustomTimeZone)
		cfg.S3 = &s3.Config{Bucket: bucketOf(deref(c.BucketARN))}
		if err := processing(c.ProcessingConfiguration); err != nil {
			return cfg, err
		}
		if d := c.DataFormatConversionConfiguration; d != nil && (*d)["Enabled"] != false {
			return cfg, invalid("DataFormatConversionConfiguration is not supported by this server (Sluice converts to Parquet with sluice firehose run).")
		}
		if d := c.DynamicPartitioningConfiguration; d != nil && deref(d.Enabled) {
			return cfg, invalid("DynamicPartitioningConfiguration is not supported by this server (Sluice partitions with sluice firehose run).")
		}
		if deref(c.S3BackupMode) == "Enabled" {
			b := c.S3BackupConfiguration
			if b == nil {
				return cfg, invalid("S3BackupConfiguration is required when S3BackupMode is Enabled.")
			}
			cfg.Backup = &firehose.Backup{Mode: firehose.BackupAllData, S3: &s3.Config{Bucket: bucketOf(deref(b.BucketARN))},
				Prefix: deref(b.Prefix), ErrorOutputPrefix: deref(b.ErrorOutputPrefix), Compression: deref(b.CompressionFormat)}
		}
	case ds.HTTP != nil:
		c := ds.HTTP
		hints(c.BufferingHints)
		h := &firehose.HTTPEndpointConfig{URL: deref(c.EndpointConfiguration.Url), AccessKey: deref(c.EndpointConfiguration.AccessKey)}
		if rc := c.RequestConfiguration; rc != nil {
			h.ContentEncoding = deref(rc.ContentEncoding)
			if len(rc.CommonAttributes) > 0 {
				h.CommonAttributes = map[string]string{}
				for _, a := range rc.CommonAttributes {
					h.CommonAttributes[deref(a.AttributeName)] = deref(a.AttributeValue)
				}
			}
		}
		cfg.HTTPEndpoint = h
		if c.RetryOptions != nil && c.RetryOptions.DurationInSeconds != nil {
			cfg.RetryDurationInSeconds = firehose.Seconds(int(*c.RetryOptions.DurationInSeconds))
		}
		if err := processing(c.ProcessingConfiguration); err != nil {
			return cfg, err
		}
		b := c.S3Configuration
		mode := firehose.BackupFailedDataOnly
		if deref(c.S3BackupMode) == "AllData" {
			mode = firehose.BackupAllData
		}
		cfg.Backup = &firehose.Backup{Mode: mode, S3: &s3.Config{Bucket: bucketOf(deref(b.BucketARN))},
			Prefix: deref(b.Prefix), ErrorOutputPrefix: deref(b.ErrorOutputPrefix), Compression: deref(b.CompressionFormat)}
	default:
		return cfg, errors.New("no destination")
	}
	check := cfg
	check.EnsureDefaults()
	if err := check.Validate(); err != nil {
		return cfg, invalid(strings.TrimPrefix(err.Error(), firehose.ErrConfig.Error()+": "))
	}
	return cfg, nil
}
