package firehoseapi

import "strconv"

// The DeliveryStreamDescription of DescribeDeliveryStream.

type describeOutput struct {
	DeliveryStreamDescription streamDescription `json:"DeliveryStreamDescription"`
}

type encryptionDescription struct {
	Status string `json:"Status"`
}

type sourceDescription struct {
	KinesisStreamSourceDescription *kinesisSourceDescription `json:"KinesisStreamSourceDescription,omitempty"`
	DirectPutSourceDescription     *directPutDescription     `json:"DirectPutSourceDescription,omitempty"`
}

type kinesisSourceDescription struct {
	KinesisStreamARN       string `json:"KinesisStreamARN"`
	RoleARN                string `json:"RoleARN"`
	DeliveryStartTimestamp epoch  `json:"DeliveryStartTimestamp"`
}

type directPutDescription struct {
	ThroughputHintInMBs int64 `json:"ThroughputHintInMBs"`
}

type streamDescription struct {
	DeliveryStreamName                    string                   `json:"DeliveryStreamName"`
	DeliveryStreamARN                     string                   `json:"DeliveryStreamARN"`
	DeliveryStreamStatus                  string                   `json:"DeliveryStreamStatus"`
	DeliveryStreamEncryptionConfiguration encryptionDescription    `json:"DeliveryStreamEncryptionConfiguration"`
	DeliveryStreamType                    string                   `json:"DeliveryStreamType"`
	VersionId                             string                   `json:"VersionId"`
	CreateTimestamp                       epoch                    `json:"CreateTimestamp"`
	LastUpdateTimestamp                   *epoch                   `json:"LastUpdateTimestamp,omitempty"`
	Source                                *sourceDescription       `json:"Source,omitempty"`
	Destinations                          []destinationDescription `json:"Destinations"`
	HasMoreDestinations                   bool                     `json:"HasMoreDestinations"`
}

type destinationDescription struct {
	DestinationId                      string               `json:"DestinationId"`
	S3DestinationDescription           *s3Description       `json:"S3DestinationDescription,omitempty"`
	ExtendedS3DestinationDescription   *extendedDescription `json:"ExtendedS3DestinationDescription,omitempty"`
	HttpEndpointDestinationDescription *httpDescription     `json:"HttpEndpointDestinationDescription,omitempty"`
}

type s3Description struct {
	RoleARN                  string                   `json:"RoleARN"`
	BucketARN                string                   `json:"BucketARN"`
	Prefix                   string                   `json:"Prefix,omitempty"`
	ErrorOutputPrefix        string                   `json:"ErrorOutputPrefix,omitempty"`
	BufferingHints           BufferingHints           `json:"BufferingHints"`
	CompressionFormat        string                   `json:"CompressionFormat"`
	EncryptionConfiguration  EncryptionConfiguration  `json:"EncryptionConfiguration"`
	CloudWatchLoggingOptions CloudWatchLoggingOptions `json:"CloudWatchLoggingOptions"`
}

type extendedDescription struct {
	s3Description
	ProcessingConfiguration *ProcessingConfiguration `json:"ProcessingConfiguration,omitempty"`
	S3BackupMode            string                   `json:"S3BackupMode"`
	S3BackupDescription     *s3Description           `json:"S3BackupDescription,omitempty"`
	FileExtension           string                   `json:"FileExtension,omitempty"`
	CustomTimeZone          string                   `json:"CustomTimeZone,omitempty"`
}

type httpDescription struct {
	EndpointConfiguration struct {
		Url  string `json:"Url"`
		Name string `json:"Name,omitempty"`
	} `json:"EndpointConfiguration"`
	BufferingHints           BufferingHints                    `json:"BufferingHints"`
	RequestConfiguration     *HttpEndpointRequestConfiguration `json:"RequestConfiguration,omitempty"`
	RoleARN                  string                            `json:"RoleARN,omitempty"`
	S3BackupMode             string                            `json:"S3BackupMode"`
	S3DestinationDescription *s3Description                    `json:"S3DestinationDescription,omitempty"`
}

func hintsOr(h *BufferingHints, size, interval int64) BufferingHints {
	out := BufferingHints{SizeInMBs: &size, IntervalInSeconds: &interval}
	if h != nil {
		set(&out.SizeInMBs, h.SizeInMBs)
		set(&out.IntervalInSeconds, h.IntervalInSeconds)
	}
	return out
}

func describeS3(c *S3DestinationConfiguration) *s3Description {
	d := &s3Description{
		RoleARN: deref(c.RoleARN), BucketARN: deref(c.BucketARN), Prefix: deref(c.Prefix), ErrorOutputPrefix: deref(c.ErrorOutputPrefix),
		BufferingHints: hintsOr(c.BufferingHints, 5, 300), CompressionFormat: deref(c.CompressionFormat),
	}
	if d.CompressionFormat == "" {
		d.CompressionFormat = "UNCOMPRESSED"
	}
	if c.EncryptionConfiguration != nil {
		d.EncryptionConfiguration = *c.EncryptionConfiguration
	} else {
		no := "NoEncryption"
		d.EncryptionConfiguration.NoEncryptionConfig = &no
	}
	if c.CloudWatchLoggingOptions != nil {
		d.CloudWatchLoggingOptions = *c.CloudWatchLoggingOptions
	} else {
		f := false
		d.CloudWatchLoggingOptions.Enabled = &f
	}
	return d
}

func describeStream(ds DeliveryStream) streamDescription {
	d := streamDescription{
		DeliveryStreamName: ds.Name, DeliveryStreamARN: ds.ARN, DeliveryStreamStatus: ds.Status,
		DeliveryStreamEncryptionConfiguration: encryptionDescription{Status: "DISABLED"},
		DeliveryStreamType:                    ds.Type, VersionId: strconv.FormatInt(ds.Version, 10),
		CreateTimestamp: epoch{ds.Created},
	}
	if ds.Version > 1 {
		d.LastUpdateTimestamp = &epoch{ds.Updated}
	}
	if ds.Source != nil {
		d.Source = &sourceDescription{KinesisStreamSourceDescription: &kinesisSourceDescription{
			KinesisStreamARN: deref(ds.Source.KinesisStreamARN), RoleARN: deref(ds.Source.RoleARN), DeliveryStartTimestamp: epoch{ds.Created}}}
	}
	dest := destinationDescription{DestinationId: destinationID}
	switch {
	case ds.S3 != nil:
		c := ds.S3
		plain := describeS3(&c.S3DestinationConfiguration)
		dest.S3DestinationDescription = plain
		e := &extendedDescription{s3Description: *plain, ProcessingConfiguration: c.ProcessingConfiguration,
			S3BackupMode: deref(c.S3BackupMode), FileExtension: deref(c.FileExtension), CustomTimeZone: deref(c.CustomTimeZone)}
		if e.S3BackupMode == "" {
			e.S3BackupMode = "Disabled"
		}
		if c.S3BackupConfiguration != nil {
			e.S3BackupDescription = describeS3(c.S3BackupConfiguration)
		}
		dest.ExtendedS3DestinationDescription = e
	case ds.HTTP != nil:
		c := ds.HTTP
		h := &httpDescription{BufferingHints: hintsOr(c.BufferingHints, 5, 300), RequestConfiguration: c.RequestConfiguration,
			RoleARN: deref(c.RoleARN), S3BackupMode: deref(c.S3BackupMode)}
		h.EndpointConfiguration.Url = deref(c.EndpointConfiguration.Url)
		h.EndpointConfiguration.Name = deref(c.EndpointConfiguration.Name)
		if h.S3BackupMode == "" {
			h.S3BackupMode = "FailedDataOnly"
		}
		if c.S3Configuration != nil {
			h.S3DestinationDescription = describeS3(c.S3Configuration)
		}
		dest.HttpEndpointDestinationDescription = h
	}
	d.Destinations = []destinationDescription{dest}
	return d
}
