package firehose

import (
	"encoding/json"
	"time"
)

// Error codes written in error documents.
const (
	CodeLambdaFunctionError      = "Lambda.FunctionError"
	CodeLambdaProcessingFailed   = "Lambda.ProcessingFailedStatus"
	CodeLambdaMissingRecordID    = "Lambda.MissingRecordId"
	CodeLambdaDuplicatedRecordID = "Lambda.DuplicatedRecordId"
	CodeLambdaInvalidStatus      = "Lambda.InvalidStatus"
	CodeLambdaJSONError          = "Lambda.JsonProcessingException"
	CodeFormatConversion         = "DataFormatConversion.ParseError"
	CodeMetadataExtraction       = "DynamicPartitioning.MetadataExtractionFailed"
	CodeActivePartitionsExceeded = "DynamicPartitioning.ActivePartitionsLimitExceeded"
	CodePrefixEvaluation         = "S3.PrefixEvaluationFailed"
	CodeHTTPDestination          = "HttpEndpoint.DestinationException"
	CodeDelivery                 = "S3.DeliveryFailed"
)

// ProcessingFailedDoc is Firehose's processing-failed document (also used,
// with other error codes, for partitioning and delivery failures).
type ProcessingFailedDoc struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	RawData                []byte `json:"rawData"` // base64 in JSON
	LambdaArn              string `json:"lambdaArn,omitempty"`
}

// FormatConversionFailedDoc is Firehose's format-conversion-failed
// document.
type FormatConversionFailedDoc struct {
	AttemptsMade           int          `json:"attemptsMade"`
	ArrivalTimestamp       int64        `json:"arrivalTimestamp"`
	LastErrorCode          string       `json:"lastErrorCode"`
	LastErrorMessage       string       `json:"lastErrorMessage"`
	AttemptEndingTimestamp int64        `json:"attemptEndingTimestamp"`
	RawData                []byte       `json:"rawData"`
	SequenceNumber         *string      `json:"sequenceNumber"`
	SubSequenceNumber      *int64       `json:"subSequenceNumber"`
	DataCatalogTable       CatalogTable `json:"dataCatalogTable"`
}

// CatalogTable names the schema in format-conversion-failed documents.
type CatalogTable struct {
	CatalogID    *string `json:"catalogId"`
	DatabaseName *string `json:"databaseName"`
	TableName    *string `json:"tableName"`
	Region       *string `json:"region"`
	VersionID    string  `json:"versionId"`
	CatalogArn   *string `json:"catalogArn"`
}

// failure is one record bound for the error output.
type failure struct {
	rec      Record
	typ      string // error-output-type
	code     string
	msg      string
	attempts int
	ended    time.Time
}

func (f failure) doc(lambdaArn, table string) ([]byte, error) {
	if f.typ == "format-conversion-failed" {
		d := FormatConversionFailedDoc{
			AttemptsMade: f.attempts, ArrivalTimestamp: f.rec.ArrivalTime.UnixMilli(),
			LastErrorCode: f.code, LastErrorMessage: f.msg, AttemptEndingTimestamp: f.ended.UnixMilli(),
			RawData: f.rec.Data, DataCatalogTable: CatalogTable{VersionID: "LATEST"},
		}
		if f.rec.SequenceNumber != "" {
			d.SequenceNumber = &f.rec.SequenceNumber
		}
		if f.rec.Aggregated {
			sub := int64(f.rec.SubSequenceNumber)
			d.SubSequenceNumber = &sub
		}
		if table != "" {
			d.DataCatalogTable.TableName = &table
		}
		return json.Marshal(d)
	}
	d := ProcessingFailedDoc{
		AttemptsMade: f.attempts, ArrivalTimestamp: f.rec.ArrivalTime.UnixMilli(),
		ErrorCode: f.code, ErrorMessage: f.msg, AttemptEndingTimestamp: f.ended.UnixMilli(),
		RawData: f.rec.Data,
	}
	if f.typ == "processing-failed" {
		d.LambdaArn = lambdaArn
	}
	return json.Marshal(d)
}
