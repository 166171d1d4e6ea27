"""REST API (JWT: POST /api/v1/security/login), read-only, under the same row scope as the pages.

Each resource filters and orders only by what it shows (never by licence file keys, the OCR
text or a mobile number); its page size is capped by FAB_API_MAX_PAGE_SIZE (100).
"""
from flask_appbuilder import ModelRestApi
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.scope import ROW_SCOPE
from models.organisation import Enterprise
from models.training import TrainingPlan


class TrainingPlanApi(ModelRestApi):
    resource_name = "plan"
    datamodel = SQLAInterface(TrainingPlan)
    base_filters = ROW_SCOPE
    base_permissions = ["can_get", "can_info"]
    list_columns = ["id", "institution.name", "occupation.name", "level.name", "quota", "fee",
                    "enrol_start", "enrol_end", "train_start", "train_end", "venue",
                    "region.name", "review_state", "seats_reserved", "seats_paid"]
    show_columns = list_columns
    search_columns = ["institution", "occupation", "level", "quota", "fee", "enrol_start",
                      "enrol_end", "train_start", "train_end", "venue", "region", "review_state",
                      "seats_reserved", "seats_paid"]
    order_columns = list_columns


class EnterpriseApi(ModelRestApi):
    resource_name = "enterprise"
    datamodel = SQLAInterface(Enterprise)
    base_filters = ROW_SCOPE
    base_permissions = ["can_get", "can_info"]
    list_columns = ["id", "uscc", "name", "region.name", "province_owned", "review_state",
                    "created_at"]
    show_columns = list_columns + ["enterprise_type", "legal_representative", "address",
                                   "contact_person"]
    search_columns = ["uscc", "name", "region", "province_owned", "review_state", "created_at",
                      "enterprise_type", "legal_representative", "address", "contact_person"]
    order_columns = list_columns
