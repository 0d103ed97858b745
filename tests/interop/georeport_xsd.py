"""XML Schemas for Open311 GeoReport v2 answers, written from the published specification
(http://wiki.open311.org/GeoReport_v2): element names, order, and value types."""

from __future__ import annotations

from typing import Any

COMMON = """
  <xs:simpleType name="emptyString"><xs:restriction base="xs:string"><xs:length value="0"/>
  </xs:restriction></xs:simpleType>
  <xs:simpleType name="optDateTime"><xs:union memberTypes="xs:dateTime emptyString"/>
  </xs:simpleType>
  <xs:simpleType name="optDouble"><xs:union memberTypes="xs:double emptyString"/>
  </xs:simpleType>
"""


def _schema(body: str) -> str:
    return (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">'
        + COMMON
        + body
        + "</xs:schema>"
    )


DISCOVERY = _schema("""
  <xs:element name="discovery"><xs:complexType><xs:sequence>
    <xs:element name="changeset" type="xs:dateTime"/>
    <xs:element name="contact" type="xs:string"/>
    <xs:element name="key_service" type="xs:string"/>
    <xs:element name="endpoints"><xs:complexType><xs:sequence>
      <xs:element name="endpoint" maxOccurs="unbounded"><xs:complexType><xs:sequence>
        <xs:element name="specification" type="xs:anyURI"/>
        <xs:element name="url" type="xs:anyURI"/>
        <xs:element name="changeset" type="xs:dateTime"/>
        <xs:element name="type"><xs:simpleType><xs:restriction base="xs:string">
          <xs:enumeration value="production"/><xs:enumeration value="test"/>
        </xs:restriction></xs:simpleType></xs:element>
        <xs:element name="formats"><xs:complexType><xs:sequence>
          <xs:element name="format" type="xs:string" maxOccurs="unbounded"/>
        </xs:sequence></xs:complexType></xs:element>
      </xs:sequence></xs:complexType></xs:element>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
""")

SERVICES = _schema("""
  <xs:element name="services"><xs:complexType><xs:sequence>
    <xs:element name="service" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:sequence>
      <xs:element name="service_code" type="xs:string"/>
      <xs:element name="service_name" type="xs:string"/>
      <xs:element name="description" type="xs:string"/>
      <xs:element name="metadata" type="xs:boolean"/>
      <xs:element name="type"><xs:simpleType><xs:restriction base="xs:string">
        <xs:enumeration value="realtime"/><xs:enumeration value="batch"/>
        <xs:enumeration value="blackbox"/>
      </xs:restriction></xs:simpleType></xs:element>
      <xs:element name="keywords" type="xs:string"/>
      <xs:element name="group" type="xs:string"/>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
""")

SERVICE_DEFINITION = _schema("""
  <xs:element name="service_definition"><xs:complexType><xs:sequence>
    <xs:element name="service_code" type="xs:string"/>
    <xs:element name="attributes"><xs:complexType><xs:sequence>
      <xs:element name="attribute" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:sequence>
        <xs:element name="variable" type="xs:boolean"/>
        <xs:element name="code" type="xs:string"/>
        <xs:element name="datatype"><xs:simpleType><xs:restriction base="xs:string">
          <xs:enumeration value="string"/><xs:enumeration value="number"/>
          <xs:enumeration value="datetime"/><xs:enumeration value="text"/>
          <xs:enumeration value="singlevaluelist"/><xs:enumeration value="multivaluelist"/>
        </xs:restriction></xs:simpleType></xs:element>
        <xs:element name="required" type="xs:boolean"/>
        <xs:element name="datatype_description" type="xs:string"/>
        <xs:element name="order" type="xs:positiveInteger"/>
        <xs:element name="description" type="xs:string"/>
        <xs:element name="values" minOccurs="0"><xs:complexType><xs:sequence>
          <xs:element name="value" maxOccurs="unbounded"><xs:complexType><xs:sequence>
            <xs:element name="key" type="xs:string"/>
            <xs:element name="name" type="xs:string"/>
          </xs:sequence></xs:complexType></xs:element>
        </xs:sequence></xs:complexType></xs:element>
      </xs:sequence></xs:complexType></xs:element>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
""")

REQUESTS = _schema("""
  <xs:element name="service_requests"><xs:complexType><xs:sequence>
    <xs:element name="request" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:sequence>
      <xs:element name="service_request_id" type="xs:string"/>
      <xs:element name="status"><xs:simpleType><xs:restriction base="xs:string">
        <xs:enumeration value="open"/><xs:enumeration value="closed"/>
      </xs:restriction></xs:simpleType></xs:element>
      <xs:element name="status_notes" type="xs:string"/>
      <xs:element name="service_name" type="xs:string"/>
      <xs:element name="service_code" type="xs:string"/>
      <xs:element name="description" type="xs:string"/>
      <xs:element name="agency_responsible" type="xs:string"/>
      <xs:element name="service_notice" type="xs:string"/>
      <xs:element name="requested_datetime" type="xs:dateTime"/>
      <xs:element name="updated_datetime" type="optDateTime"/>
      <xs:element name="expected_datetime" type="optDateTime"/>
      <xs:element name="address" type="xs:string"/>
      <xs:element name="address_id" type="xs:string"/>
      <xs:element name="zipcode" type="xs:string"/>
      <xs:element name="lat" type="optDouble"/>
      <xs:element name="long" type="optDouble"/>
      <xs:element name="media_url" type="xs:string"/>
      <xs:element name="extended_attributes" minOccurs="0"><xs:complexType><xs:sequence>
        <xs:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence></xs:complexType></xs:element>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
""")

# POST requests and tokens/{token}: the id and/or the token.
CREATED = _schema("""
  <xs:element name="service_requests"><xs:complexType><xs:sequence>
    <xs:element name="request" maxOccurs="unbounded"><xs:complexType><xs:sequence>
      <xs:element name="service_request_id" type="xs:string" minOccurs="0"/>
      <xs:element name="token" type="xs:string" minOccurs="0"/>
      <xs:element name="service_notice" type="xs:string" minOccurs="0"/>
      <xs:element name="account_id" type="xs:string" minOccurs="0"/>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
""")

ERRORS = _schema("""
  <xs:element name="errors"><xs:complexType><xs:sequence>
    <xs:element name="error" maxOccurs="unbounded"><xs:complexType><xs:sequence>
      <xs:element name="code" type="xs:positiveInteger"/>
      <xs:element name="description" type="xs:string"/>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
""")


def validate(schema: str, document: bytes) -> Any:
    """Parse `document` and validate it against `schema`; the parsed root element."""
    from lxml import etree

    xsd = etree.XMLSchema(etree.fromstring(schema.encode()))
    root = etree.fromstring(document)
    if not xsd.validate(root):
        raise AssertionError(f"XML does not match the GeoReport v2 schema: {xsd.error_log}")
    return root
