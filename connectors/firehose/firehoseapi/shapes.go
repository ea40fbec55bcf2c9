package firehoseapi

import (
	"strconv"
	"time"
)

// The request and response shapes of the operations served, with the
// members' names as the API model spells them. Optional members are
// pointers so that validation sees whether they were sent.

// Delivery stream types.
const (
	TypeDirectPut     = "DirectPut"
	TypeKinesisSource = "KinesisStreamAsSource"
)

// Limits of the service.
const (
	MaxRecordBytes  = 1024000 // 1,000 KiB per record
	MaxBatchRecords = 500
	MaxBatchBytes   = 4 << 20 // 4 MiB per PutRecordBatch
	MaxTags         = 50
	destinationID   = "destinationId-000000000001"
)

// epoch is a timestamp, answered as epoch seconds with milliseconds.
type epoch struct{ time.Time }

func (t epoch) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', 3, 64), nil
}

// Tag is a delivery stream's tag.
type Tag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

type BufferingHints struct {
	SizeInMBs         *int64 `json:"SizeInMBs,omitempty"`
	IntervalInSeconds *int64 `json:"IntervalInSeconds,omitempty"`
}

type ProcessorParameter struct {
	ParameterName  *string `json:"ParameterName"`
	ParameterValue *string `json:"ParameterValue"`
}

type Processor struct {
	Type       *string              `json:"Type"`
	Parameters []ProcessorParameter `json:"Parameters,omitempty"`
}

type ProcessingConfiguration struct {
	Enabled    *bool       `json:"Enabled,omitempty"`
	Processors []Processor `json:"Processors,omitempty"`
}

type CloudWatchLoggingOptions struct {
	Enabled       *bool   `json:"Enabled,omitempty"`
	LogGroupName  *string `json:"LogGroupName,omitempty"`
	LogStreamName *string `json:"LogStreamName,omitempty"`
}

type EncryptionConfiguration struct {
	NoEncryptionConfig  *string         `json:"NoEncryptionConfig,omitempty"`
	KMSEncryptionConfig *map[string]any `json:"KMSEncryptionConfig,omitempty"`
}

type DynamicPartitioningConfiguration struct {
	Enabled      *bool `json:"Enabled,omitempty"`
	RetryOptions *struct {
		DurationInSeconds *int64 `json:"DurationInSeconds,omitempty"`
	} `json:"RetryOptions,omitempty"`
}

// S3DestinationConfiguration is the plain S3 destination (and the backup
// of the others).
type S3DestinationConfiguration struct {
	RoleARN                  *string                   `json:"RoleARN"`
	BucketARN                *string                   `json:"BucketARN"`
	Prefix                   *string                   `json:"Prefix,omitempty"`
	ErrorOutputPrefix        *string                   `json:"ErrorOutputPrefix,omitempty"`
	BufferingHints           *BufferingHints           `json:"BufferingHints,omitempty"`
	CompressionFormat        *string                   `json:"CompressionFormat,omitempty"`
	EncryptionConfiguration  *EncryptionConfiguration  `json:"EncryptionConfiguration,omitempty"`
	CloudWatchLoggingOptions *CloudWatchLoggingOptions `json:"CloudWatchLoggingOptions,omitempty"`
}

// ExtendedS3DestinationConfiguration is the S3 destination with
// processing, partitioning and format conversion.
type ExtendedS3DestinationConfiguration struct {
	S3DestinationConfiguration
	ProcessingConfiguration           *ProcessingConfiguration          `json:"ProcessingConfiguration,omitempty"`
	S3BackupMode                      *string                           `json:"S3BackupMode,omitempty"`
	S3BackupConfiguration             *S3DestinationConfiguration       `json:"S3BackupConfiguration,omitempty"`
	DataFormatConversionConfiguration *map[string]any                   `json:"DataFormatConversionConfiguration,omitempty"`
	DynamicPartitioningConfiguration  *DynamicPartitioningConfiguration `json:"DynamicPartitioningConfiguration,omitempty"`
	FileExtension                     *string                           `json:"FileExtension,omitempty"`
	CustomTimeZone                    *string                           `json:"CustomTimeZone,omitempty"`
}

type HttpEndpointConfiguration struct {
	Url       *string `json:"Url"`
	Name      *string `json:"Name,omitempty"`
	AccessKey *string `json:"AccessKey,omitempty"`
}

type HttpEndpointCommonAttribute struct {
	AttributeName  *string `json:"AttributeName"`
	AttributeValue *string `json:"AttributeValue"`
}

type HttpEndpointRequestConfiguration struct {
	ContentEncoding  *string                       `json:"ContentEncoding,omitempty"`
	CommonAttributes []HttpEndpointCommonAttribute `json:"CommonAttributes,omitempty"`
}

type HttpEndpointDestinationConfiguration struct {
	EndpointConfiguration    *HttpEndpointConfiguration        `json:"EndpointConfiguration"`
	BufferingHints           *BufferingHints                   `json:"BufferingHints,omitempty"`
	CloudWatchLoggingOptions *CloudWatchLoggingOptions         `json:"CloudWatchLoggingOptions,omitempty"`
	RequestConfiguration     *HttpEndpointRequestConfiguration `json:"RequestConfiguration,omitempty"`
	ProcessingConfiguration  *ProcessingConfiguration          `json:"ProcessingConfiguration,omitempty"`
	RoleARN                  *string                           `json:"RoleARN,omitempty"`
	RetryOptions             *struct {
		DurationInSeconds *int64 `json:"DurationInSeconds,omitempty"`
	} `json:"RetryOptions,omitempty"`
	S3BackupMode    *string                     `json:"S3BackupMode,omitempty"`
	S3Configuration *S3DestinationConfiguration `json:"S3Configuration"`
}

type KinesisStreamSourceConfiguration struct {
	KinesisStreamARN *string `json:"KinesisStreamARN"`
	RoleARN          *string `json:"RoleARN"`
}

type DirectPutSourceConfiguration struct {
	ThroughputHintInMBs *int64 `json:"ThroughputHintInMBs"`
}

type createInput struct {
	DeliveryStreamName                   *string                               `json:"DeliveryStreamName"`
	DeliveryStreamType                   *string                               `json:"DeliveryStreamType"`
	DirectPutSourceConfiguration         *DirectPutSourceConfiguration         `json:"DirectPutSourceConfiguration"`
	KinesisStreamSourceConfiguration     *KinesisStreamSourceConfiguration     `json:"KinesisStreamSourceConfiguration"`
	S3DestinationConfiguration           *S3DestinationConfiguration           `json:"S3DestinationConfiguration"`
	ExtendedS3DestinationConfiguration   *ExtendedS3DestinationConfiguration   `json:"ExtendedS3DestinationConfiguration"`
	HttpEndpointDestinationConfiguration *HttpEndpointDestinationConfiguration `json:"HttpEndpointDestinationConfiguration"`
	Tags                                 []Tag                                 `json:"Tags"`
	// Destinations this server does not deliver to: accepted by the
	// decoder so that the refusal names them.
	DeliveryStreamEncryptionConfigurationInput         *map[string]any `json:"DeliveryStreamEncryptionConfigurationInput"`
	RedshiftDestinationConfiguration                   *map[string]any `json:"RedshiftDestinationConfiguration"`
	ElasticsearchDestinationConfiguration              *map[string]any `json:"ElasticsearchDestinationConfiguration"`
	AmazonopensearchserviceDestinationConfiguration    *map[string]any `json:"AmazonopensearchserviceDestinationConfiguration"`
	SplunkDestinationConfiguration                     *map[string]any `json:"SplunkDestinationConfiguration"`
	AmazonOpenSearchServerlessDestinationConfiguration *map[string]any `json:"AmazonOpenSearchServerlessDestinationConfiguration"`
	MSKSourceConfiguration                             *map[string]any `json:"MSKSourceConfiguration"`
	SnowflakeDestinationConfiguration                  *map[string]any `json:"SnowflakeDestinationConfiguration"`
	IcebergDestinationConfiguration                    *map[string]any `json:"IcebergDestinationConfiguration"`
	DatabaseSourceConfiguration                        *map[string]any `json:"DatabaseSourceConfiguration"`
}

type createOutput struct {
	DeliveryStreamARN string `json:"DeliveryStreamARN"`
}

type describeInput struct {
	DeliveryStreamName          *string `json:"DeliveryStreamName"`
	Limit                       *int64  `json:"Limit"`
	ExclusiveStartDestinationId *string `json:"ExclusiveStartDestinationId"`
}

type deleteInput struct {
	DeliveryStreamName *string `json:"DeliveryStreamName"`
	AllowForceDelete   *bool   `json:"AllowForceDelete"`
}

type listInput struct {
	Limit                            *int64  `json:"Limit"`
	DeliveryStreamType               *string `json:"DeliveryStreamType"`
	ExclusiveStartDeliveryStreamName *string `json:"ExclusiveStartDeliveryStreamName"`
}

type listOutput struct {
	DeliveryStreamNames    []string `json:"DeliveryStreamNames"`
	HasMoreDeliveryStreams bool     `json:"HasMoreDeliveryStreams"`
}

type record struct {
	Data []byte `json:"Data"`
}

type putRecordInput struct {
	DeliveryStreamName *string `json:"DeliveryStreamName"`
	Record             *record `json:"Record"`
}

type putRecordOutput struct {
	RecordId  string `json:"RecordId"`
	Encrypted bool   `json:"Encrypted"`
}

type putBatchInput struct {
	DeliveryStreamName *string   `json:"DeliveryStreamName"`
	Records            []*record `json:"Records"`
}

type batchEntry struct {
	RecordId     string `json:"RecordId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

type putBatchOutput struct {
	FailedPutCount   int          `json:"FailedPutCount"`
	Encrypted        bool         `json:"Encrypted"`
	RequestResponses []batchEntry `json:"RequestResponses"`
}

type updateInput struct {
	DeliveryStreamName             *string                               `json:"DeliveryStreamName"`
	CurrentDeliveryStreamVersionId *string                               `json:"CurrentDeliveryStreamVersionId"`
	DestinationId                  *string                               `json:"DestinationId"`
	S3DestinationUpdate            *S3DestinationConfiguration           `json:"S3DestinationUpdate"`
	ExtendedS3DestinationUpdate    *ExtendedS3DestinationConfiguration   `json:"ExtendedS3DestinationUpdate"`
	HttpEndpointDestinationUpdate  *HttpEndpointDestinationConfiguration `json:"HttpEndpointDestinationUpdate"`
	RedshiftDestinationUpdate      *map[string]any                       `json:"RedshiftDestinationUpdate"`
	ElasticsearchDestinationUpdate *map[string]any                       `json:"ElasticsearchDestinationUpdate"`
	SplunkDestinationUpdate        *map[string]any                       `json:"SplunkDestinationUpdate"`
	SnowflakeDestinationUpdate     *map[string]any                       `json:"SnowflakeDestinationUpdate"`
	IcebergDestinationUpdate       *map[string]any                       `json:"IcebergDestinationUpdate"`
}

type tagInput struct {
	DeliveryStreamName *string `json:"DeliveryStreamName"`
	Tags               []Tag   `json:"Tags"`
}

type untagInput struct {
	DeliveryStreamName *string  `json:"DeliveryStreamName"`
	TagKeys            []string `json:"TagKeys"`
}

type listTagsInput struct {
	DeliveryStreamName   *string `json:"DeliveryStreamName"`
	ExclusiveStartTagKey *string `json:"ExclusiveStartTagKey"`
	Limit                *int64  `json:"Limit"`
}

type listTagsOutput struct {
	Tags        []Tag `json:"Tags"`
	HasMoreTags bool  `json:"HasMoreTags"`
}

// empty is the output of an operation that answers {}.
type empty struct{}

// streamName is the delivery stream an input names (for authorization).
func (in *createInput) streamName() *string    { return in.DeliveryStreamName }
func (in *describeInput) streamName() *string  { return in.DeliveryStreamName }
func (in *deleteInput) streamName() *string    { return in.DeliveryStreamName }
func (in *putRecordInput) streamName() *string { return in.DeliveryStreamName }
func (in *putBatchInput) streamName() *string  { return in.DeliveryStreamName }
func (in *updateInput) streamName() *string    { return in.DeliveryStreamName }
func (in *tagInput) streamName() *string       { return in.DeliveryStreamName }
func (in *untagInput) streamName() *string     { return in.DeliveryStreamName }
func (in *listTagsInput) streamName() *string  { return in.DeliveryStreamName }
