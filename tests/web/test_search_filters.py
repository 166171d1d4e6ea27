"""The list pages' search filters offer only related rows in the user's scope: an enterprise's
order list must not name every other enterprise or every plan."""
import json

from app import scope
from models.states import PlanState
from tests.factories import gen_enterprise, gen_institution, gen_plan, gen_user
from tests.helpers import path
from tests.order_factories import gen_order


def test_the_order_filters_name_only_what_the_enterprise_may_see(app, login_as):
    mine = gen_enterprise(name="本企业建设有限公司")
    other = gen_enterprise(name="别家建设有限公司")
    gen_order(mine, gen_plan(gen_institution(name="本计划培训机构")), 1)
    gen_order(other, gen_plan(gen_institution(name="别家培训机构"),
                              review_state=PlanState.DRAFT.value), 1)
    client = app.test_client()
    login_as(client, gen_user(scope.ENTERPRISE, enterprise_id=mine.id))
    page = client.get(path("OrderView.list")).get_data(as_text=True)
    assert _named(page, "本企业建设有限公司")
    assert not _named(page, "别家建设有限公司")  # not even in the filter's dropdown
    assert _named(page, "本计划培训机构")
    assert not _named(page, "别家培训机构")  # another institution's draft plan


def _named(page: str, text: str) -> bool:
    """In the page's text, or in the filter widgets it carries as JSON (\\uXXXX escapes)."""
    return text in page or json.dumps(text)[1:-1] in page
