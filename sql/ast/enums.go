package ast

// The String methods name enum values as Dump prints them.

func (k ColumnKind) String() string {
	return enumName(int(k), "", "PhysicalColumn", "ComputedColumn", "MetadataColumn")
}

func (k ConstraintKind) String() string { return enumName(int(k), "", "PrimaryKey", "UniqueKey") }

func (k IsKind) String() string {
	return enumName(int(k), "", "IsNull", "IsTrue", "IsFalse", "IsUnknown", "IsJSON")
}

func (k GroupingKind) String() string {
	return enumName(int(k), "", "GroupExpr", "GroupEmpty", "GroupRollup", "GroupCube", "GroupingSets")
}

func (k FrameUnit) String() string { return enumName(int(k), "", "FrameRows", "FrameRange") }

func (k BoundKind) String() string {
	return enumName(int(k), "", "UnboundedPreceding", "Preceding", "CurrentRow", "Following", "UnboundedFollowing")
}

func (k JoinKind) String() string {
	return enumName(int(k), "", "InnerJoin", "LeftJoin", "RightJoin", "FullJoin", "CrossJoin", "CommaJoin")
}

func (k RowsPerMatch) String() string {
	return enumName(int(k), "", "OneRowPerMatch", "AllRowsPerMatch")
}

func (k SkipKind) String() string {
	return enumName(int(k), "", "SkipPastLastRow", "SkipToNextRow", "SkipToFirst", "SkipToLast")
}

func (k NullTreatment) String() string { return enumName(int(k), "", "RespectNulls", "IgnoreNulls") }

func (k AlterAction) String() string {
	return enumName(int(k), "", "AlterSetOptions", "AlterResetOptions", "AlterRename", "AlterRenameColumn",
		"AlterAdd", "AlterModify", "AlterDropColumns", "AlterDropPrimaryKey", "AlterDropConstraint", "AlterDropWatermark")
}

func enumName(v int, names ...string) string {
	if v >= 0 && v < len(names) && names[v] != "" {
		return names[v]
	}
	return "?"
}
